// The reports page: `GET /report` for a period as tables and charts, each
// table downloadable as CSV from `GET /report.csv` (same figures, same code).
import { el, barChart, duration, percent } from '/console/figures.js';
import { showLists } from '/console/lists.js';

const form = document.getElementById('period');
const zoneInput = document.getElementById('time_zone');
zoneInput.value = Intl.DateTimeFormat().resolvedOptions().timeZone;

function query(table) {
  const params = new URLSearchParams();
  for (const name of ['from', 'to', 'time_zone']) {
    const value = document.getElementById(name).value.trim();
    if (value) params.set(name, value);
  }
  if (table) params.set('table', table);
  return params.toString();
}

/** A figure's value as people read it: shares as percents, times as m:ss. */
function readable(name, value) {
  if (value === null || value === undefined) return '–';
  if (name.endsWith('_ms')) return duration(value);
  if (typeof value === 'number' && !Number.isInteger(value)) return percent(value);
  if (['containment', 'auto_registration', 'to_agent_share', 'service_level', 'abandonment'].includes(name)) return percent(value);
  return String(value);
}

function table(name, title, header, rows, chart) {
  return el('section', { class: 'table', 'data-table': name },
    el('h2', {}, title),
    chart ?? null,
    el('table', {},
      el('thead', {}, el('tr', {}, header.map((h) => el('th', {}, h)))),
      el('tbody', {}, rows.map((row) => el('tr', {}, row.map((cell, i) =>
        el('td', { class: i > 0 ? 'number' : '' }, cell)))))),
    el('a', { href: `/report.csv?${query(name)}`, download: `hotline-${name}.csv`, 'data-csv': name }, 'Download CSV'));
}

function figures(group) {
  return Object.entries(group).map(([name, value]) => [name.replace(/_ms$/, '').replaceAll('_', ' '), readable(name, value)]);
}

async function show(event) {
  event?.preventDefault();
  const error = document.getElementById('error');
  const answer = await fetch(`/report?${query()}`);
  if (answer.status === 401) { location.href = '/login'; return; }
  if (!answer.ok) {
    error.textContent = (await answer.text()).trim();
    document.getElementById('tables').replaceChildren();
    return;
  }
  error.textContent = '';
  showLists(query());
  const report = await answer.json();
  const outcomes = ['contained_by_ivr', 'ticket_registered', 'to_agent', 'transferred', 'abandoned_in_ivr', 'other']
    .map((name) => [name.replaceAll('_', ' '), report.calls[name]]);
  document.getElementById('tables').replaceChildren(
    table('calls', 'Calls', ['figure', 'value'], figures(report.calls), barChart('Calls by outcome', outcomes)),
    table('queue', 'Queue', ['figure', 'value'], figures(report.queue)),
    table('menu', 'Menu choices', ['node', 'key', 'count'],
      report.menu.map((m) => [m.node, m.key, m.count]),
      barChart('Choices per menu item', report.menu.map((m) => [`${m.node} [${m.key}]`, m.count]))),
    table('agents', 'Agents', ['agent', 'offered', 'answered', 'missed', 'handled', 'talk time'],
      report.agents.map((a) => [a.agent, a.offered, a.answered, a.missed, a.handled, duration(a.talk_ms)])),
    table('tickets', 'Tickets', ['figure', 'value'], figures(report.tickets)));
  showSeries();
}

/** Charts of the period over time: calls per hour of the day, and per day calls and service level. */
async function showSeries() {
  const answer = await fetch(`/console/series?${query()}`);
  if (!answer.ok) return;
  const series = await answer.json();
  const chart = (name, title, pairs) => el('section', { class: 'table', 'data-chart': name },
    el('h2', {}, title), barChart(title, pairs));
  const hour = (h) => `${String(h).padStart(2, '0')}:00`;
  document.getElementById('tables').append(
    chart('calls-per-hour', 'Calls per hour of the day', series.calls_per_hour.map((n, h) => [hour(h), n])),
    chart('calls-per-day', 'Calls per day', series.days.map((d) => [d.day, d.calls])),
    chart('service-level-per-day', 'Service level per day (%)', series.days.map((d) => [
      d.service_level === null ? `${d.day} (no queue)` : d.day,
      d.service_level === null ? 0 : Math.round(d.service_level * 100)])));
}

form.addEventListener('submit', show);
show();
