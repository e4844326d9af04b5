// Watches the wallboard while the Rust test places a call: the queue's
// waiting count, then the agent's tile ringing and on a call.
// Arguments: base URL, token, agent id, screenshot directory.
import { heard, run, say, signIn } from './browser.mjs';

const [base, token, agent, shots] = process.argv.slice(2);

run(async (context) => {
  const page = await signIn(context, base, token);
  const tile = `[data-agent="${agent}"]`;
  await page.waitForSelector(`${tile}[data-state="available"]`);
  await page.screenshot({ path: `${shots}/console-wallboard-idle.png` });
  say('available');

  await page.waitForFunction(() =>
    document.querySelector('[data-queue="support"] [data-field="waiting"] .value')?.textContent === '1');
  await page.waitForSelector(`${tile}[data-state="ringing"]`);
  const waiting = await page.textContent('[data-queue="support"] [data-field="waiting"] .label');
  const caller = await page.textContent(`${tile} .caller`);
  await page.screenshot({ path: `${shots}/console-wallboard-ringing.png` });
  say(`ringing waiting=1 label=${waiting} caller=${caller}`);

  await heard();
  await page.waitForSelector(`${tile}[data-state="on_call"]`);
  const after = await page.textContent('[data-queue="support"] [data-field="waiting"] .value');
  await page.screenshot({ path: `${shots}/console-wallboard-on-call.png` });
  say(`on_call waiting=${after}`);
});
