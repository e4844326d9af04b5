// The flows page (admin): the live flows and their publications, an editor
// that shows the compiler's problems at their line as the admin types
// (`POST /flows/check` compiles without publishing), the flow's own tests,
// the simulator, publishing and rolling back.
import { el } from '/console/figures.js';

const list = document.getElementById('flows');
const error = document.getElementById('error');
const source = document.getElementById('source');
const gutter = document.getElementById('gutter');
const problemsList = document.getElementById('problems');
const verdict = document.getElementById('verdict');
const publishButton = document.getElementById('publish');
const testsOutput = document.getElementById('tests');
const transcript = document.getElementById('transcript');
const editingWhat = document.getElementById('editing-what');

/** Posts JSON; the answer's status and body (JSON, or the text). */
async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: response.status, json, text };
}

function when(ms) {
  return new Date(ms).toLocaleString();
}

async function loadFlows() {
  const response = await fetch('/flows/live');
  if (!response.ok) {
    error.textContent = `The flows cannot be listed (${response.status}).`;
    return;
  }
  error.textContent = '';
  const flows = await response.json();
  list.replaceChildren(...flows.map(flowSection));
}

function flowSection(flow) {
  // Newest first: the first publication of the live version is the one in force.
  const liveRow = flow.publications.findIndex((p) => p.version === flow.live);
  const rows = flow.publications.map((p, i) => {
    const live = i === liveRow;
    return el('tr', { 'data-version': p.version, class: live ? 'live-row' : undefined },
      el('td', {}, p.version, live ? el('span', { class: 'live' }, ' · live') : null),
      el('td', {}, p.published_by),
      el('td', {}, when(p.published_at)),
      el('td', { class: 'buttons' },
        button('View and edit', () => openVersion(flow.id, p.version), 'view'),
        p.version === flow.live ? null : button('Roll back to this', () => rollBack(flow.id, p.version), 'rollback')));
  });
  return el('section', { class: 'flow', 'data-flow': flow.id },
    el('h3', {}, `${flow.id} `, el('small', {}, `(${flow.file}) live: `), el('span', { class: 'live-version' }, flow.live)),
    el('table', {},
      el('thead', {}, el('tr', {}, el('th', {}, 'Version'), el('th', {}, 'Published by'), el('th', {}, 'When'), el('th', {}, ''))),
      el('tbody', {}, rows)));
}

function button(label, action, name) {
  const b = el('button', { type: 'button', 'data-action': name }, label);
  b.addEventListener('click', action);
  return b;
}

async function openVersion(id, version) {
  const response = await fetch(`/flows/${encodeURIComponent(id)}/versions/${encodeURIComponent(version)}`);
  if (!response.ok) {
    verdict.textContent = `That version cannot be read (${response.status}).`;
    return;
  }
  setSource(await response.text());
  editingWhat.textContent = `${id} from ${version}`;
}

async function rollBack(id, version) {
  const { status, json } = await post(`/flows/${encodeURIComponent(id)}/rollback`, { version });
  verdict.textContent = status === 200
    ? `Rolled back: ${json.version} is live again. Calls in progress keep their version.`
    : `Not rolled back: ${json?.error} ${(json?.problems ?? []).map((p) => p.message).join('; ')}`;
  await loadFlows();
}

function setSource(text) {
  source.value = text;
  changed();
}

// The gutter holds one number per line, marked where a problem is.
let marks = new Map();
function drawGutter() {
  const lines = source.value.split('\n').length;
  const numbers = [];
  for (let n = 1; n <= lines; n += 1) {
    const mark = marks.get(n);
    numbers.push(el('span', { class: mark, 'data-line': n, title: mark ? 'problem on this line' : undefined }, `${n}\n`));
  }
  gutter.replaceChildren(...numbers);
  source.rows = lines + 1;
}

// Checks run as the admin types; an answer older than the text is dropped.
let asked = 0;
let timer = null;
function changed() {
  // What was run on the earlier text no longer says anything about this one.
  testsOutput.textContent = '';
  delete testsOutput.dataset.passed;
  transcript.textContent = '';
  drawGutter();
  clearTimeout(timer);
  timer = setTimeout(checkNow, 250);
}

async function checkNow() {
  const ask = asked += 1;
  const { status, json } = await post('/flows/check', { source: source.value });
  if (ask !== asked) return;
  if (status !== 200) {
    verdict.textContent = `Cannot check: ${json?.error ?? status}`;
    return;
  }
  showProblems(json);
}

function showProblems(result) {
  marks = new Map();
  for (const p of result.problems) {
    if (p.line > 0 && marks.get(p.line) !== 'bad') marks.set(p.line, p.severity === 'error' ? 'bad' : 'warn');
  }
  drawGutter();
  problemsList.replaceChildren(...result.problems.map((p) => {
    const where = p.line > 0 ? `line ${p.line}, column ${p.column}` : 'whole flow';
    const item = el('li', { class: p.severity, 'data-line': p.line, 'data-column': p.column }, `${where}: ${p.severity}: ${p.message}`);
    item.addEventListener('click', () => goTo(p.line, p.column));
    return item;
  }));
  publishButton.disabled = !result.publishable;
  verdict.textContent = result.publishable
    ? `No errors: ${result.id} would be published as ${result.version}.`
    : 'This flow has errors and cannot be published.';
}

/** Puts the caret at a line and column of the editor. */
function goTo(line, column) {
  const lines = source.value.split('\n');
  let offset = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i += 1) offset += lines[i].length + 1;
  offset += Math.max(0, column - 1);
  source.focus();
  source.setSelectionRange(offset, offset);
}

source.addEventListener('input', () => {
  if (!editingWhat.textContent.endsWith(', edited')) editingWhat.textContent += ', edited';
  changed();
});

document.getElementById('upload').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  setSource(await file.text());
  editingWhat.textContent = `${file.name} (uploaded)`;
});

publishButton.addEventListener('click', async () => {
  publishButton.disabled = true;
  const { status, json } = await post('/flows/publish', { source: source.value });
  if (status === 200) {
    verdict.textContent = `Published: ${json.version} is live. New calls get it; calls in progress keep their version.`;
  } else if (json?.problems) {
    showProblems({ publishable: false, problems: json.problems });
    verdict.textContent = 'Not published: the flow has errors.';
  } else {
    verdict.textContent = `Not published: ${json?.error ?? status}`;
  }
  publishButton.disabled = false;
  await loadFlows();
});

document.getElementById('run-tests').addEventListener('click', async () => {
  testsOutput.textContent = 'Running the tests…';
  const { status, json } = await post('/flows/test', { source: source.value });
  if (status !== 200) {
    testsOutput.textContent = `The tests cannot run: ${json?.error ?? status}`;
    return;
  }
  const lines = [];
  if (json.passed) {
    lines.push(`All ${json.tests_passed} tests passed.`);
  } else {
    const name = json.failure.test ? `Test “${json.failure.test}” failed` : 'The flow did not compile';
    lines.push(`${json.tests_passed} tests passed. ${name}: ${json.failure.message}`);
    if (json.failure.transcript) lines.push('', json.failure.transcript);
  }
  if (json.uncovered.length) lines.push(`Nodes no test reaches: ${json.uncovered.join(', ')}`);
  testsOutput.textContent = lines.join('\n');
  testsOutput.dataset.passed = String(json.passed);
});

document.getElementById('simulate').addEventListener('submit', async (event) => {
  event.preventDefault();
  const { status, json } = await post('/flows/simulate', {
    source: source.value,
    caller: document.getElementById('caller').value.trim(),
    keys: document.getElementById('keys').value,
    fixture: document.getElementById('fixture').value,
  });
  transcript.textContent = status === 200 ? json.transcript : `Cannot simulate: ${json?.error ?? status}`;
});

drawGutter();
loadFlows();
