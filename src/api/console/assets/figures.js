// Shared by the console's pages: building elements and writing figures.

/** An element with attributes and children (strings become text, never HTML). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** An SVG element with attributes and children. */
export function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children.flat()) node.append(child instanceof Node ? child : String(child));
  return node;
}

/** Milliseconds as `m:ss` (or `h:mm:ss`); a dash when unknown. */
export function duration(ms) {
  if (ms === null || ms === undefined) return '–';
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** A share (0 to 1) as a whole percent; a dash when there is none. */
export function percent(share) {
  return share === null || share === undefined ? '–' : `${Math.round(share * 100)} %`;
}

/** One figure tile: a value, what it is, and (when rated) a colour class and words. */
export function figure(field, caption, value, rating) {
  return el('figure', { class: `figure ${rating ? rating.level : ''}`, 'data-field': field },
    el('span', { class: 'value' }, value),
    el('figcaption', {}, caption),
    rating ? el('span', { class: 'label' }, rating.label) : null);
}

/** A horizontal bar chart of `[label, value]` pairs, as inline SVG. */
export function barChart(title, pairs) {
  const row = 22, labelWidth = 160, width = 480;
  const most = Math.max(1, ...pairs.map(([, v]) => v));
  const chart = svg('svg', {
    class: 'chart', role: 'img', 'aria-label': title,
    viewBox: `0 0 ${width} ${Math.max(row, pairs.length * row)}`,
  });
  pairs.forEach(([label, value], i) => {
    const y = i * row;
    const bar = Math.round(((width - labelWidth - 40) * value) / most);
    chart.append(
      svg('text', { x: 0, y: y + 15 }, label),
      svg('rect', { x: labelWidth, y: y + 3, width: bar, height: row - 6 }),
      svg('text', { x: labelWidth + bar + 4, y: y + 15 }, String(value)));
  });
  return chart;
}
