// Shared by the console's browser tests: Debian's chromium driven headless
// by playwright-core (which downloads no browser), a fresh profile each run.
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** A browser context on a fresh profile; downloads allowed; `extra` chromium flags. */
export async function open(extra = []) {
  const profile = mkdtempSync(join(tmpdir(), 'hotline-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1366, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extra],
  });
  context.setDefaultTimeout(20_000);
  return context;
}

/** Signs in at `base` with `token`; the page, on the wallboard. */
export async function signIn(context, base, token) {
  const page = context.pages()[0] ?? await context.newPage();
  await page.goto(`${base}/login`);
  await page.fill('#token', token);
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
  return page;
}

/** Signs `login` in to the agent desktop at `base`; the page, once its softphone is registered. */
export async function agentDesktop(context, base, login, password) {
  const page = context.pages()[0] ?? await context.newPage();
  page.on('console', (m) => m.type() === 'error' && process.stderr.write(`page: ${m.text()}\n`));
  await page.goto(`${base}/login`);
  await page.fill('#login', login);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(`${base}/agent`), page.click('form[action="/login/agent"] button')]);
  await page.waitForSelector('#phone-state[data-phone="ready"]');
  return page;
}

/**
 * Runs in the page (pass it to `page.evaluate` with the stream's handle):
 * the strongest frequency of `stream` over 1.5 s, by a WebAudio analyser.
 * Chromium feeds a remote WebRTC stream to WebAudio only once a media
 * element plays it; a muted one is started here, so nothing reaches the speakers.
 */
export async function strongestFrequency(stream) {
  const audio = new Audio();
  audio.muted = true;
  audio.srcObject = stream;
  await audio.play();
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 8192;
  ctx.createMediaStreamSource(stream).connect(analyser);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  let best = 0;
  for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
  return Math.round(best * ctx.sampleRate / analyser.fftSize);
}

/** Opens the "call us" page at `url`, presses the call button and waits until the call is up. */
export async function callFromWidget(page, url) {
  await page.goto(url);
  await page.click('.hotline-widget .hl-call');
  await page.waitForFunction(() => {
    const state = window.hotlineCall.state;
    if (state === 'error' || state === 'microphone-refused') throw new Error(`${state} ${window.hotlineCall.detail}`);
    return state === 'in-call' && window.hotlineCall.remote;
  }, null, { timeout: 30_000 });
}

/** Tells the Rust test something happened (one line on stdout). */
export function say(line) {
  process.stdout.write(`${line}\n`);
}

/** Waits for the Rust test to send `line` on stdin. */
const input = createInterface({ input: process.stdin });
const lines = [];
const waiting = [];
input.on('line', (line) => {
  const next = waiting.shift();
  if (next) next(line); else lines.push(line);
});
export function heard() {
  return lines.length ? Promise.resolve(lines.shift()) : new Promise((resolve) => waiting.push(resolve));
}

/** Runs a test body; any failure is printed and ends the process with 1. */
export async function run(body, extra = []) {
  const context = await open(extra);
  try {
    await body(context);
    await context.close();
    process.exit(0);
  } catch (error) {
    say(`FAIL ${error.stack ?? error}`);
    await context.close().catch(() => {});
    process.exit(1);
  }
}
