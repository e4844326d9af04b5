// The agent desktop served over HTTPS (a self-signed certificate the
// browser is told to accept): the page's softphone registers over wss://.
// Arguments: base URL (https), login, password.
import { run, agentDesktop, say } from './browser.mjs';

const [base, login, password] = process.argv.slice(2);

run(async (context) => {
  const page = await agentDesktop(context, base, login, password);
  const url = await page.evaluate(() => window.hotlinePhone.ua.transport.via_transport + ' ' + window.hotlinePhone.ua.transport.url);
  say(`registered ${url}`);
}, ['--ignore-certificate-errors', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream']);
