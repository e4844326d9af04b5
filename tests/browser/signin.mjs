// Without a session the wallboard sends you to sign in; a wrong token is
// refused; a monitor's session cookie is HttpOnly and SameSite=Strict and
// gets 403 where an admin is needed.
// Arguments: base URL, monitor token, screenshot directory.
import { run, say, signIn } from './browser.mjs';

const [base, monitor, shots] = process.argv.slice(2);

run(async (context) => {
  const page = context.pages()[0] ?? await context.newPage();
  await page.goto(`${base}/`);
  if (!page.url().endsWith('/login')) throw new Error(`no session, yet at ${page.url()}`);
  await page.waitForSelector('#token');
  await page.screenshot({ path: `${shots}/console-login.png` });
  say('login page');

  await page.fill('#token', 'hotline_not_a_token');
  await page.click('button[type=submit]');
  const refusal = await page.textContent('[role=alert]');
  say(`refused ${refusal.trim()}`);

  await signIn(context, base, monitor);
  const cookie = (await context.cookies()).find((c) => c.name === 'hotline_session');
  say(`cookie httpOnly=${cookie?.httpOnly} sameSite=${cookie?.sameSite}`);
  await page.waitForSelector('[data-queue]');
  say('wallboard');

  const admin = await page.goto(`${base}/tokens`);
  say(`tokens ${admin.status()}`);
  const api = await page.evaluate(async () => (await fetch('/tokens')).status);
  say(`tokens fetch ${api}`);
});
