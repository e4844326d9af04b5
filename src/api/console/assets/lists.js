// The reports page's lists: the calls and tickets of the period, filtered,
// 20 rows a page, each with its CSV (`/console/calls.csv`, same filters,
// every page). Numbers come masked for the reader's role from the server.
import { el } from '/console/figures.js';

const PER_PAGE = 20;

const LISTS = {
  calls: {
    columns: [['started_at', 'Started'], ['caller', 'Caller'], ['channel', 'Channel'], ['customer_id', 'Customer'],
      ['flow_outcome', 'Outcome'], ['path', 'Menu path'], ['flow_version', 'Flow version']],
    filters: () => ({ outcome: document.getElementById('calls-outcome').value }),
  },
  tickets: {
    columns: [['ticket', 'Ticket'], ['kind', 'Kind'], ['status', 'Status'], ['caller', 'Caller'],
      ['created_at', 'Registered'], ['due_at', 'Due'], ['overdue', 'Overdue']],
    filters: () => ({
      kind: document.getElementById('tickets-kind').value.trim(),
      status: document.getElementById('tickets-status').value.trim(),
      overdue: document.getElementById('tickets-overdue').checked ? 'true' : '',
    }),
  },
};

let period = '';
const pages = { calls: 1, tickets: 1 };

/** Shows both lists for the period (`from`, `to`, `time_zone` as a query string). */
export function showLists(periodQuery) {
  period = periodQuery;
  pages.calls = 1;
  pages.tickets = 1;
  render('calls');
  render('tickets');
}

function params(name) {
  const query = new URLSearchParams(period);
  for (const [key, value] of Object.entries(LISTS[name].filters())) {
    if (value) query.set(key, value);
  }
  return query;
}

async function render(name) {
  const list = LISTS[name];
  const query = params(name);
  document.getElementById(`${name}-csv`).href = `/console/${name}.csv?${query}`;
  query.set('page', pages[name]);
  query.set('per_page', PER_PAGE);
  const target = document.getElementById(`${name}-rows`);
  const answer = await fetch(`/console/${name}?${query}`);
  if (!answer.ok) {
    target.replaceChildren(el('p', { class: 'error' }, (await answer.text()).trim()));
    return;
  }
  const page = await answer.json();
  const rows = page[name];
  const last = Math.max(1, Math.ceil(page.total / page.per_page));
  const move = (by) => { pages[name] += by; render(name); };
  const previous = el('button', { type: 'button', 'data-page': 'previous' }, '‹ Newer');
  const next = el('button', { type: 'button', 'data-page': 'next' }, 'Older ›');
  previous.disabled = page.page <= 1;
  next.disabled = page.page >= last;
  previous.addEventListener('click', () => move(-1));
  next.addEventListener('click', () => move(1));
  target.replaceChildren(
    el('table', { 'data-list': name },
      el('thead', {}, el('tr', {}, list.columns.map(([, title]) => el('th', {}, title)))),
      el('tbody', {}, rows.map((row) => el('tr', { 'data-row': '' },
        list.columns.map(([key]) => el('td', { 'data-column': key }, cell(row[key]))))))),
    el('p', { class: 'pager', 'data-total': page.total },
      previous, `Page ${page.page} of ${last} · ${page.total} ${name}`, next));
}

function cell(value) {
  if (value === null || value === undefined) return '–';
  if (value === true) return 'yes';
  if (value === false) return 'no';
  return String(value);
}

for (const name of Object.keys(LISTS)) {
  document.getElementById(`${name}-filters`).addEventListener('submit', (event) => {
    event.preventDefault();
    pages[name] = 1;
    render(name);
  });
}
