// The agent desktop: my state and its buttons, and the screen-pop of the
// call offered to me, from my own event stream.
import { duration } from '/console/figures.js';

const STATES = {
  available: 'Available', ringing: 'Ringing', on_call: 'On a call',
  wrap_up: 'Wrap-up', logged_out: 'Logged out',
};
let since = null;
let wrapUpEnds = null;

function showState(agent) {
  if (!agent) return;
  document.getElementById('me').textContent = agent.id;
  const state = typeof agent.state === 'string'
    ? STATES[agent.state] ?? agent.state
    : `Paused: ${agent.state?.paused?.reason ?? ''}`;
  const line = document.getElementById('state');
  line.textContent = state;
  line.dataset.state = typeof agent.state === 'string' ? agent.state : 'paused';
  since = Date.parse(agent.since);
  wrapUpEnds = agent.wrap_up_left_ms === null ? null : Date.now() + agent.wrap_up_left_ms;
  tick();
}

/** Time in state, or while in wrap-up, the time left of it. */
function tick() {
  const time = document.getElementById('time');
  if (wrapUpEnds) time.textContent = `${duration(wrapUpEnds - Date.now())} left`;
  else if (since) time.textContent = duration(Date.now() - since);
}

function showPop(pop) {
  for (const field of document.querySelectorAll('[data-pop]')) {
    const value = pop[field.dataset.pop];
    field.textContent = Array.isArray(value) ? value.join(' › ') : (value ?? '–');
  }
  document.getElementById('pop').hidden = false;
}

async function change(state) {
  const reason = document.getElementById('reason').value.trim() || undefined;
  const answer = await fetch('/agent/state', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ state, reason }),
  });
  if (answer.status === 401) { location.href = '/login'; return; }
  const body = await answer.json();
  document.getElementById('error').textContent = answer.ok ? '' : body.error;
}

for (const button of document.querySelectorAll('[data-change]')) {
  button.addEventListener('click', () => change(button.dataset.change));
}

const connection = document.getElementById('connection');
connection.textContent = 'connecting…';
const events = new EventSource('/agent/events');
events.onopen = () => { connection.textContent = 'live'; };
events.onerror = () => {
  if (events.readyState === EventSource.CLOSED) location.href = '/login';
  else connection.textContent = 'reconnecting…';
};
events.addEventListener('snapshot', (message) => showState(JSON.parse(message.data).agent));
events.onmessage = (message) => {
  const event = JSON.parse(message.data);
  if (event.event === 'screen_pop') showPop(event);
};
setInterval(tick, 1000);
