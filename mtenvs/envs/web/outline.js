// Builds the text outline of the page and tags interactive elements with data-mt-id.
// Takes maxLines and formats ({inputType: shown format}, bound once by browser.py) and returns
// {lines: string[], elements: {id, kind, name, value, options, newTab[, inputType, group]}[]}
// (inputType: a date or time input's type; group: a radio button's group).
(maxLines, formats) => {
  const lines = [];
  const elements = [];
  let next = 0;
  for (const e of document.querySelectorAll('[data-mt-id]')) e.removeAttribute('data-mt-id');
  const SKIP = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'HEAD', 'IFRAME', 'SVG']);
  const NEST = new Set(['UL', 'OL', 'FORM', 'TABLE', 'NAV', 'SECTION', 'FIELDSET', 'DIALOG']);
  const clean = (t) => (t || '').replace(/\s+/g, ' ').trim().slice(0, 200);
  const quote = (t) => JSON.stringify(t);
  const labelOf = (e) => {
    const aria = e.getAttribute('aria-label');
    if (aria) return clean(aria);
    if (e.labels && e.labels.length) {
      const own = Array.from(e.labels[0].childNodes)
        .filter((n) => n.nodeType === 3).map((n) => n.textContent).join(' ');
      if (clean(own)) return clean(own);
    }
    return clean(e.getAttribute('placeholder') || e.getAttribute('title') || e.name || '');
  };
  // A radio's group: the legend of its fieldset (or an ARIA radiogroup's label), else its name.
  const groupOf = (e) => {
    const set = e.closest('fieldset');
    const legend = set && Array.from(set.children).find((c) => c.tagName === 'LEGEND');
    if (legend && clean(legend.textContent)) return clean(legend.textContent);
    const group = e.closest('[role="radiogroup"]');
    if (group && clean(group.getAttribute('aria-label'))) {
      return clean(group.getAttribute('aria-label'));
    }
    return clean(e.name);
  };
  const kindOf = (e) => {
    const tag = e.tagName;
    if (tag === 'A') return 'link';
    if (tag === 'BUTTON' || tag === 'SUMMARY') return 'button';
    if (tag === 'SELECT') return 'combobox';
    if (tag === 'TEXTAREA') return 'textbox';
    if (tag === 'INPUT') {
      const t = (e.type || 'text').toLowerCase();
      if (t === 'hidden') return null;
      if (t === 'checkbox' || t === 'radio') return t;
      if (t === 'submit' || t === 'button' || t === 'reset' || t === 'image') return 'button';
      return 'textbox';
    }
    if (e.getAttribute('role') === 'button' || e.hasAttribute('onclick')) return 'button';
    return null;
  };
  const push = (depth, text) => {
    if (lines.length < maxLines) lines.push('  '.repeat(depth) + text);
  };
  // Tags ``e`` and returns its outline text, e.g. [3] link "Cart (0)".
  const interactive = (e, kind) => {
    next += 1;
    e.setAttribute('data-mt-id', String(next));
    const item = { id: next, kind, name: '', value: null, options: null,
      newTab: kind === 'link' && e.target === '_blank' };
    let text;
    if (kind === 'link' || kind === 'button') {
      item.name = clean(e.innerText || e.value || e.getAttribute('aria-label') || '');
      text = `[${next}] ${kind} ${quote(item.name)}`;
      if (item.newTab) text += ' (opens a new tab)';
    } else if (kind === 'combobox') {
      item.name = labelOf(e);
      item.options = Array.from(e.options).map((o) => clean(o.textContent));
      item.value = e.selectedIndex >= 0 ? item.options[e.selectedIndex] : '';
      text = `[${next}] combobox ${quote(item.name)} selected=${quote(item.value)} ` +
        `options: ${item.options.join(' | ')}`;
    } else if (kind === 'checkbox' || kind === 'radio') {
      item.name = labelOf(e) || clean(e.parentElement ? e.parentElement.innerText : '');
      item.value = e.checked ? 'checked' : '';
      // only the keys that are set: every key costs on the way back to Python
      const group = kind === 'radio' ? groupOf(e) : '';
      if (group) item.group = group;
      text = `[${next}] ${kind} ${quote(item.name)}` +
        (group ? ` (group ${quote(group)})` : '') + (e.checked ? ' checked' : '');
    } else {
      item.name = labelOf(e);
      item.value = e.value;
      // date and time inputs take one format: show it, e.g. (date, YYYY-MM-DD)
      const type = e.tagName === 'INPUT' ? (e.type || 'text').toLowerCase() : '';
      const format = Object.hasOwn(formats, type) ? formats[type] : null;
      if (format) item.inputType = type;
      text = `[${next}] textbox ${quote(item.name)}` +
        (format ? ` (${type}, ${format})` : '') + ` value=${quote(clean(e.value))}`;
    }
    elements.push(item);
    return text;
  };
  const visible = (e) => !e.checkVisibility || e.checkVisibility();
  const kindHere = (c) => (c.tagName === 'A' && !c.hasAttribute('href') ? null : kindOf(c));
  // The text of a flow element on one line, its interactive elements tagged in place.
  const inline = (node) => {
    let out = '';
    for (const c of node.childNodes) {
      if (c.nodeType === 3) { out += c.textContent; continue; }
      if (c.nodeType !== 1 || SKIP.has(c.tagName) || !visible(c)) continue;
      const kind = kindHere(c);
      if (kind) { out += ' ' + interactive(c, kind) + ' '; continue; }
      if (c.tagName === 'IMG') { out += ` [image ${quote(clean(c.alt))}] `; continue; }
      if (c.tagName === 'LABEL' && hasInteractive(c)) {
        for (const x of c.querySelectorAll('a[href],button,input,select,textarea')) {
          const k = kindOf(x);
          if (k && visible(x)) out += ' ' + interactive(x, k) + ' ';
        }
        continue;
      }
      out += ' ' + inline(c) + ' ';
    }
    return clean(out);
  };
  const hasInteractive = (e) => e.querySelector('a[href],button,input,select,textarea') !== null;
  const FLOW = new Set(['P', 'LI', 'DD', 'DT', 'CAPTION', 'FIGCAPTION', 'BLOCKQUOTE']);
  const walk = (node, depth) => {
    let text = '';
    const flush = () => {
      const t = clean(text);
      if (t) push(depth, t);
      text = '';
    };
    for (const c of node.childNodes) {
      if (c.nodeType === 3) { text += c.textContent; continue; }
      if (c.nodeType !== 1 || SKIP.has(c.tagName) || !visible(c)) continue;
      const kind = kindHere(c);
      if (kind) { text += ' ' + interactive(c, kind) + ' '; continue; }
      if (c.tagName === 'INPUT') continue;
      if (/^H[1-6]$/.test(c.tagName)) { flush(); push(depth, `heading ${quote(clean(c.innerText))}`); continue; }
      if (c.tagName === 'TR') {
        flush();
        push(depth, '| ' + Array.from(c.cells).map((x) => inline(x)).join(' | '));
        continue;
      }
      if (c.tagName === 'LABEL' && hasInteractive(c)) {
        // the label's text is the control's name: one line per control
        flush();
        for (const x of c.querySelectorAll('a[href],button,input,select,textarea')) {
          const k = kindOf(x);
          if (k && visible(x)) push(depth, interactive(x, k));
        }
        continue;
      }
      if (FLOW.has(c.tagName) ||
          getComputedStyle(c).display.startsWith('inline')) {
        if (FLOW.has(c.tagName)) { flush(); push(depth, inline(c)); } else text += ' ' + inline(c) + ' ';
        continue;
      }
      flush();
      walk(c, depth + (NEST.has(c.tagName) ? 1 : 0));
    }
    flush();
  };
  if (document.body) walk(document.body, 0);
  if (lines.length >= maxLines) lines.push(`… (outline cut at ${maxLines} lines)`);
  return { lines, elements, title: document.title };
}
