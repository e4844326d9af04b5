// A web caller for an agent: opens the "call us" page, calls, presses 0 on
// the widget's keypad for an agent, then reports the strongest frequency it
// hears once the agent talks, while its fake microphone plays MIC.wav.
// Arguments: base URL, microphone WAV file.
import { run, say, heard, callFromWidget, strongestFrequency } from './browser.mjs';

const [base, microphone] = process.argv.slice(2);

run(async (context) => {
  const page = context.pages()[0] ?? await context.newPage();
  page.on('console', (m) => m.type() === 'error' && process.stderr.write(`caller page: ${m.text()}\n`));
  await callFromWidget(page, `${base}/call`);
  say('in-call');

  await heard();
  await page.click('.hotline-widget .hl-keys button[data-key="0"]');
  say('pressed 0');

  await heard();
  const remote = await page.evaluateHandle(() => window.hotlineCall.remote);
  say(`heard ${await page.evaluate(strongestFrequency, remote)}`);
  await heard();
}, ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  `--use-file-for-fake-audio-capture=${microphone}`, '--autoplay-policy=no-user-gesture-required']);
