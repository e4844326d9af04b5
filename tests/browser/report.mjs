// The reports page: a bad date is refused in words; today's calls table
// downloads as CSV. Arguments: base URL, token, screenshot directory.
import { run, say, signIn } from './browser.mjs';

const [base, token, shots] = process.argv.slice(2);

run(async (context) => {
  const page = await signIn(context, base, token);
  await page.goto(`${base}/reports`);
  await page.fill('#from', '2026-13-45');
  await page.click('#period button[type=submit]');
  await page.waitForFunction(() => document.getElementById('error').textContent.length > 0);
  say(`bad date ${(await page.textContent('#error')).trim()}`);

  await page.fill('#from', '');
  await page.click('#period button[type=submit]');
  await page.waitForSelector('[data-table="calls"] svg.chart');
  await page.screenshot({ path: `${shots}/console-reports.png`, fullPage: true });
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click('[data-csv="calls"]'),
  ]);
  const saved = `${shots}/console-report-calls.csv`;
  await download.saveAs(saved);
  say(`csv ${saved}`);
});
