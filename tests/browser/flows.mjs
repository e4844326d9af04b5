// The flows page as an admin uses it: a monitor is refused; the admin sees
// the live flow, runs its tests, types an error and sees it at its line,
// fixes it, simulates a call, publishes while the test holds a call in
// progress, and rolls back.
// Arguments: base URL, admin token, monitor token, screenshot directory,
// the file of the broken text, the file of the changed (valid) text.
import { readFileSync } from 'node:fs';
import { heard, run, say, signIn } from './browser.mjs';

const [base, admin, monitor, shots, brokenFile, changedFile] = process.argv.slice(2);
const broken = readFileSync(brokenFile, 'utf8');
const changed = readFileSync(changedFile, 'utf8');

/** Waits until the page's verdict line says `start…`; its text. */
async function verdict(page, start) {
  const handle = await page.waitForFunction(
    (s) => { const t = document.getElementById('verdict').textContent; return t.startsWith(s) ? t : null; },
    start,
  );
  return handle.jsonValue();
}

/** Runs the flow's tests from the page; the first line of what it shows. */
async function runTests(page) {
  await page.evaluate(() => { delete document.getElementById('tests').dataset.passed; });
  await page.click('#run-tests');
  await page.waitForSelector('#tests[data-passed]');
  return (await page.textContent('#tests')).split('\n')[0];
}

run(async (context) => {
  let page = await signIn(context, base, monitor);
  const refused = await page.goto(`${base}/flows`);
  const publish = await page.evaluate(async () => (await fetch('/flows/publish', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"source":"id: x"}',
  })).status);
  say(`monitor page ${refused.status()} publish ${publish}`);

  page = await signIn(context, base, admin);
  await page.goto(`${base}/flows`);
  const first = await page.textContent('[data-flow=hotline] .live-version');
  say(`live ${first}`);

  await page.click('[data-flow=hotline] tr.live-row button[data-action=view]');
  await verdict(page, 'No errors');
  say(`tests ${await runTests(page)}`);

  // An error, as if typed: the problem appears at its line, and publishing is off.
  await page.fill('#source', broken);
  const problem = await page.waitForSelector('#problems li.error');
  const line = await problem.getAttribute('data-line');
  const column = await problem.getAttribute('data-column');
  const marked = await page.getAttribute('#gutter .bad', 'data-line');
  const off = await page.isDisabled('#publish');
  await page.screenshot({ path: `${shots}/console-flows-error.png`, fullPage: true });
  say(`problem line=${line} column=${column} gutter=${marked} publish_disabled=${off} ${await problem.textContent()}`);

  await page.fill('#source', changed);
  await verdict(page, 'No errors');
  say(`tests ${await runTests(page)}`);
  await page.fill('#keys', '');
  await page.click('#simulate button[type=submit]');
  await page.waitForFunction(() => document.getElementById('transcript').textContent.includes('outcome'));
  const played = (await page.textContent('#transcript')).split('\n').find((l) => l.includes('play'));
  say(`simulated ${played.trim()}`);

  say('ready to publish');
  await heard();
  await page.click('#publish');
  const published = await verdict(page, 'Published');
  await page.waitForFunction((v) => document.querySelector('[data-flow=hotline] .live-version').textContent !== v, first);
  await page.screenshot({ path: `${shots}/console-flows-published.png`, fullPage: true });
  say(published);

  await heard();
  await page.click(`[data-flow=hotline] tr[data-version="${first}"] button[data-action=rollback]`);
  await verdict(page, 'Rolled back');
  await page.waitForFunction((v) => document.querySelector('[data-flow=hotline] .live-version').textContent === v, first);
  const history = await page.$$eval('[data-flow=hotline] tbody tr', (rows) => rows.map((r) => `${r.cells[0].textContent}/${r.cells[1].textContent}`));
  await page.screenshot({ path: `${shots}/console-flows-rolled-back.png`, fullPage: true });
  say(`rolled back ${history.join(' ')}`);
});
