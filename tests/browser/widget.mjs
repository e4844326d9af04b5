// A web caller uses the "call us" widget as a visitor would: it opens the
// server's /call page (with a signed customer claim), presses the call
// button, hears the greeting (WebAudio analyser energy), presses 3 on the
// on-screen keypad, hears speech after it, then its tab vanishes without
// hanging up (the widget is kept from sending its DELETE).
// Arguments: base URL, microphone WAV file, customer token.
import { run, say, heard, callFromWidget, loudness } from './browser.mjs';

const [base, microphone, token] = process.argv.slice(2);

run(async (context) => {
  const page = context.pages()[0] ?? await context.newPage();
  await callFromWidget(page, `${base}/call?customer=${encodeURIComponent(token)}`);
  say('in-call');
  // The greeting is about 2 s long and starts as the call connects.
  say(`greeting ${(await loudness(page, 1500)).toFixed(4)}`);

  await heard();
  await page.click('.hotline-widget .hl-keys button[data-key="3"]');
  say('pressed');
  say(`after ${(await loudness(page, 3000)).toFixed(4)}`);

  await heard();
  // The tab vanishes as if its network went: no DELETE reaches the server.
  await page.evaluate(() => { window.hotlineCall.location = null; });
  await page.close();
  say('closed');
  await heard();
}, ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  `--use-file-for-fake-audio-capture=${microphone}`, '--autoplay-policy=no-user-gesture-required']);
