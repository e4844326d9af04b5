// An agent signs in with their SIP login and password and sees the
// screen-pop of the call offered to them. A wrong password and an unknown
// login get the same answer. Arguments: base URL, login, password, screenshot directory.
import { run, say } from './browser.mjs';

const [base, login, password, shots] = process.argv.slice(2);

async function attempt(page, user, secret) {
  await page.goto(`${base}/login`);
  await page.fill('#login', user);
  await page.fill('#password', secret);
  await page.click('form[action="/login/agent"] button');
}

run(async (context) => {
  const page = context.pages()[0] ?? await context.newPage();
  await attempt(page, login, 'not-the-password');
  say(`wrong password: ${(await page.textContent('[role=alert]')).trim()}`);
  await attempt(page, 'nobody', password);
  say(`unknown login: ${(await page.textContent('[role=alert]')).trim()}`);

  await attempt(page, login, password);
  await page.waitForURL(`${base}/agent`);
  await page.waitForSelector('#state[data-state="available"]');
  const queue = await page.evaluate(async () => (await fetch('/queue')).status);
  await page.goto(`${base}/`);
  say(`available; /queue ${queue}; / goes to ${new URL(page.url()).pathname}`);
  await page.waitForSelector('#state[data-state="available"]');
  await page.fill('#reason', 'lunch');
  await page.click('[data-change="pause"]');
  await page.waitForSelector('#state[data-state="paused"]');
  const paused = (await page.textContent('#state')).trim();
  await page.click('[data-change="unpause"]');
  await page.waitForSelector('#state[data-state="available"]');
  say(`${paused}, then available`);

  await page.waitForSelector('#pop:not([hidden])', { timeout: 30_000 });
  await page.waitForSelector('#state[data-state="ringing"]');
  const field = async (name) => (await page.textContent(`[data-pop="${name}"]`)).trim();
  await page.screenshot({ path: `${shots}/console-agent-screen-pop.png` });
  say(`pop name=${await field('name')} account=${await field('account')} path=${await field('path')}`);

  await page.waitForSelector('#state[data-state="on_call"]');
  say('on_call');
  await page.waitForSelector('#state[data-state="wrap_up"]');
  const left = (await page.textContent('#time')).trim();
  await page.screenshot({ path: `${shots}/console-agent-wrap-up.png` });
  await page.waitForSelector('#state[data-state="available"]');
  say(`wrap_up ${left}, then available`);
});
