// An agent in the agent desktop holds a call and resumes it: the agent
// signs in, the page registers, the queue's call rings, the test answers
// in the page, presses Hold (JsSIP re-INVITEs with a=sendonly; the page
// reports the direction hotline answered), then Hold again to resume
// (a=sendrecv), then hangs up.
// Arguments: base URL, login, password, microphone WAV file.
import { run, agentDesktop, say, heard } from './browser.mjs';

const [base, login, password, microphone] = process.argv.slice(2);

run(async (context) => {
  const page = await agentDesktop(context, base, login, password);
  say('registered');

  await page.waitForSelector('#phone-state[data-phone="ringing"]', { timeout: 60_000 });
  await heard();
  await page.click('#phone-answer');
  await page.waitForSelector('#phone-state[data-phone="talking"]');
  say('talking');

  // The direction in hotline's latest answer, once a re-INVITE is answered.
  const answered = (direction) => page.waitForFunction((wanted) => {
    const sdp = window.hotlinePhone.session?.connection?.currentRemoteDescription?.sdp ?? '';
    return sdp.includes(`a=${wanted}`);
  }, direction, { timeout: 20_000 });

  await heard();
  await page.click('#phone-hold');
  await page.waitForSelector('#phone-state[data-phone="held"]');
  await answered('recvonly');
  say(`held ${await page.getAttribute('#phone-hold', 'aria-pressed')}`);

  await heard();
  await page.click('#phone-hold');
  await page.waitForSelector('#phone-state[data-phone="talking"]');
  await answered('sendrecv');
  say(`resumed ${await page.getAttribute('#phone-hold', 'aria-pressed')}`);

  await heard();
  await page.click('#phone-hangup');
  await page.waitForSelector('#phone-state[data-phone="ready"]');
  say('hung up');
  await heard();
}, ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  `--use-file-for-fake-audio-capture=${microphone}`, '--autoplay-policy=no-user-gesture-required']);
