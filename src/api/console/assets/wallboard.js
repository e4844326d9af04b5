// The wallboard: live figures from the event stream's once-a-second
// snapshot, today's figures refetched whenever a call is answered,
// abandoned or ends. Every colour comes with words from the server.
import { el, figure, duration, percent } from '/console/figures.js';

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const CHANGES = new Set(['caller_joined', 'answered', 'abandoned', 'call_ended',
  'callback_requested', 'limit_reached']);
let live = null;
let today = null;
let refetch = null;

const STATES = {
  available: 'Available', ringing: 'Ringing', on_call: 'On a call',
  wrap_up: 'Wrap-up', logged_out: 'Logged out', paused: 'Paused',
};

function stateOf(agent) {
  if (typeof agent.state === 'string') return { key: agent.state, label: STATES[agent.state] ?? agent.state };
  const reason = agent.state?.paused?.reason;
  return { key: 'paused', label: reason ? `Paused: ${reason}` : 'Paused' };
}

async function loadToday() {
  refetch = null;
  const answer = await fetch(`/console/today?time_zone=${encodeURIComponent(zone)}`);
  if (answer.status === 401) { location.href = '/login'; return; }
  if (answer.ok) { today = await answer.json(); render(); }
}

function loadTodaySoon() {
  if (!refetch) refetch = setTimeout(loadToday, 300);
}

function render() {
  renderQueues();
  renderAgents();
  renderIvr();
}

function renderQueues() {
  const names = live?.queues?.map((q) => q.name) ?? today?.queues?.map((q) => q.name) ?? [];
  const sections = names.map((name) => {
    const now = live?.queues?.find((q) => q.name === name) ?? {};
    const day = today?.queues?.find((q) => q.name === name) ?? {};
    const target = now.target ?? day.target;
    const targetText = target ? `target ${target.percent} % in ${target.seconds} s` : '';
    return el('section', { class: 'queue', 'data-queue': name },
      el('h2', {}, `Queue ${name}`),
      el('div', { class: 'figures' },
        figure('waiting', 'waiting', now.on_hold ?? '–', now.ratings?.staffing),
        figure('longest-wait', 'longest wait', duration(now.longest_wait_ms), now.ratings?.longest_wait),
        figure('available', 'agents available', now.agents_available ?? '–'),
        figure('offered', 'offered today', day.entered ?? '–'),
        figure('answered', 'answered', day.answered ?? '–'),
        figure('abandoned', 'abandoned', day.abandoned ?? '–'),
        figure('service-level', `service level (${targetText})`, percent(day.service_level), day.rating),
        figure('asa', 'average speed of answer', duration(day.average_speed_of_answer_ms)),
        figure('aht', 'average handle time', duration(day.average_handle_time_ms))));
  });
  document.getElementById('queues').replaceChildren(...sections);
}

function renderAgents() {
  const tiles = (live?.agents ?? []).map((agent) => {
    const state = stateOf(agent);
    const since = Date.parse(agent.since);
    const caller = agent.call ? [agent.call.name, agent.call.caller].filter(Boolean).join(' · ') : '';
    return el('div', { class: 'agent', 'data-agent': agent.id, 'data-state': state.key },
      el('div', { class: 'name' }, agent.id),
      el('div', { class: 'state' }, state.label),
      el('div', { class: 'time', 'data-since': since }, duration(Date.now() - since)),
      el('div', { class: 'caller' }, caller));
  });
  document.getElementById('agents').replaceChildren(...tiles);
}

function renderIvr() {
  const ivr = today?.ivr;
  if (!ivr) return;
  document.getElementById('ivr').replaceChildren(
    figure('calls', 'calls today', ivr.calls),
    figure('containment', 'contained by the IVR', percent(ivr.containment)),
    figure('tickets-registered', 'tickets registered', ivr.tickets_registered),
    figure('tickets-open', 'tickets open', ivr.tickets_open),
    figure('tickets-overdue', 'tickets overdue', ivr.tickets_overdue,
      ivr.tickets_overdue > 0 ? { level: 'red', label: 'overdue' } : { level: 'green', label: 'none overdue' }));
}

function connection(text) {
  document.getElementById('connection').textContent = text;
}

connection('connecting…');
const events = new EventSource('/queue/events');
events.onopen = () => connection('live');
events.onerror = () => {
  if (events.readyState === EventSource.CLOSED) {
    // Refused (signed out or revoked): the sign-in page says why.
    location.href = '/login';
  } else {
    connection('reconnecting…');
  }
};
events.addEventListener('snapshot', (message) => {
  live = JSON.parse(message.data);
  renderQueues();
  renderAgents();
});
events.addEventListener('gap', loadTodaySoon);
events.onmessage = (message) => {
  const event = JSON.parse(message.data);
  if (CHANGES.has(event.event)) loadTodaySoon();
};

// Times in state tick between snapshots.
setInterval(() => {
  for (const time of document.querySelectorAll('.agent .time')) {
    time.textContent = duration(Date.now() - Number(time.dataset.since));
  }
}, 1000);
setInterval(loadToday, 30_000);
loadToday();
