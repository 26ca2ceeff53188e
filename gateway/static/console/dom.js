// Small DOM helpers. ``sync`` updates a keyed list in place: rows are matched by key,
// only changed rows are refilled, new ones inserted, gone ones removed, so a live
// update never moves the reader's scroll position or takes their keyboard focus.
export const $ = (id) => document.getElementById(id);

export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export function sync(list, rows, keyOf, make, fill) {
  const keep = new Set();
  rows.forEach((row, i) => {
    const key = keyOf(row);
    keep.add(key);
    let node = list.querySelector(`:scope > [data-key="${CSS.escape(key)}"]`);
    if (!node) { node = make(row); node.dataset.key = key; }
    const signature = JSON.stringify(row);
    if (node.dataset.signature !== signature) {
      // Refilling may replace the focused control: focus its successor (same data-focus).
      const focused = node.contains(document.activeElement) ? document.activeElement.dataset.focus : null;
      fill(node, row);
      node.dataset.signature = signature;
      if (focused) node.querySelector(`[data-focus="${CSS.escape(focused)}"]`)?.focus();
    }
    if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
  });
  [...list.children].forEach((node) => { if (!keep.has(node.dataset.key)) node.remove(); });
}

export function show(id, message) {
  $(id).textContent = message || "";
  $(id).hidden = !message;
}

export function since(seconds) {
  if (seconds < 60) return `${Math.floor(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.floor(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

// Several triggers in a burst -> one call, ``ms`` after the last.
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}
