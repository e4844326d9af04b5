// The reports page's calls list as a monitor reads it: every call of today,
// its calls per hour chart, then only the calls of one outcome, and that
// list's CSV.
// Arguments: base URL, token, screenshot directory, the outcome to filter by.
import { run, say, signIn } from './browser.mjs';

const [base, token, shots, outcome] = process.argv.slice(2);

/** The rows of the calls list: started, caller and outcome, `|`-separated. */
function rows(page) {
  return page.$$eval('[data-list=calls] tr[data-row]', (trs) => trs.map((tr) => ['started_at', 'caller', 'flow_outcome']
    .map((c) => tr.querySelector(`[data-column=${c}]`).textContent).join('|')));
}

run(async (context) => {
  const page = await signIn(context, base, token);
  await page.goto(`${base}/reports`);
  await page.waitForSelector('[data-list=calls]');
  say(`unfiltered total ${await page.getAttribute('#calls-rows .pager', 'data-total')}`);
  await page.waitForSelector('[data-chart=calls-per-hour] svg');
  const bars = await page.$$eval('[data-chart=calls-per-hour] svg text', (texts) => texts.map((t) => t.textContent));
  const hours = [];
  for (let i = 0; i < bars.length; i += 2) if (bars[i + 1] !== '0') hours.push(`${bars[i]}=${bars[i + 1]}`);
  say(`per hour in ${await page.inputValue('#time_zone')}: ${hours.join(' ')}`);

  await page.selectOption('#calls-outcome', outcome);
  await Promise.all([
    page.waitForResponse((r) => r.url().includes('/console/calls?') && r.url().includes(`outcome=${outcome}`)),
    page.click('#calls-filters button[type=submit]'),
  ]);
  await page.waitForFunction((o) => [...document.querySelectorAll('[data-list=calls] [data-column=flow_outcome]')]
    .every((td) => td.textContent === o), outcome);
  const shown = await rows(page);
  const total = await page.getAttribute('#calls-rows .pager', 'data-total');
  await page.screenshot({ path: `${shots}/console-calls-list.png`, fullPage: true });
  say(`filtered total ${total}: ${shown.join(' ; ')}`);

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#calls-csv')]);
  const saved = `${shots}/console-calls-list.csv`;
  await download.saveAs(saved);
  say(`csv ${saved}`);
});
