// The "call us" widget embedded with one script tag in a company's page of
// another origin (served here by a tiny static server): from an origin the
// server allows, the call connects (through the CORS preflight), the
// greeting is heard and the hang-up button ends the call (its DELETE
// answered with the CORS header); from an origin
// not allowed, the widget shows its error state.
// Arguments: hotline's base URL, microphone WAV file, the allowed page's
// origin, the refused page's origin ('' for none), and for https origins
// the certificate and key files.
import { createServer as createHttp } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { readFileSync } from 'node:fs';
import { run, say, callFromWidget, loudness } from './browser.mjs';

const [base, microphone, allowed, refused, certificate, key] = process.argv.slice(2);

/** Serves the company's page, embedding hotline's widget, at `origin`. */
function companySite(origin) {
  const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Example Ltd</title></head>
<body><h1>Example Ltd</h1><p>Questions? Call us from this page.</p>
<script src="${base}/widget.js" data-label="Call us" async></script></body></html>`;
  const answer = (request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(page);
  };
  const url = new URL(origin);
  const server = url.protocol === 'https:'
    ? createHttps({ cert: readFileSync(certificate), key: readFileSync(key) }, answer)
    : createHttp(answer);
  return new Promise((resolve) => server.listen(Number(url.port), url.hostname, () => resolve(server)));
}

run(async (context) => {
  const sites = [await companySite(allowed)];
  if (refused) sites.push(await companySite(refused));
  try {
    const page = context.pages()[0] ?? await context.newPage();
    await callFromWidget(page, `${allowed}/`);
    say('in-call');
    say(`greeting ${(await loudness(page, 1500)).toFixed(4)}`);
    // The widget's DELETE is sent only once its CORS preflight passed.
    const deleted = page.waitForResponse((r) => r.request().method() === 'DELETE');
    await page.click('.hotline-widget .hl-hangup');
    await page.waitForFunction(() => window.hotlineCall.state === 'ended');
    const answer = await deleted;
    say(`hung-up ${answer.status()} ${answer.headers()['access-control-allow-origin']}`);

    if (refused) {
      const other = await context.newPage();
      await other.goto(`${refused}/`);
      await other.click('.hotline-widget .hl-call');
      await other.waitForFunction(() => ['error', 'in-call'].includes(window.hotlineCall.state), null,
        { timeout: 30_000 });
      const shown = await other.evaluate(() => ({
        state: window.hotlineCall.state,
        status: document.querySelector('.hotline-widget .hl-status').textContent,
        button: !document.querySelector('.hotline-widget .hl-call').hidden,
      }));
      say(`refused ${shown.state} button=${shown.button} ${shown.status}`);
    }
  } finally {
    for (const site of sites) site.close();
  }
}, ['--ignore-certificate-errors', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  `--use-file-for-fake-audio-capture=${microphone}`, '--autoplay-policy=no-user-gesture-required']);
