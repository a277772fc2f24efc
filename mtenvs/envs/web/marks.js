// Draws set-of-marks boxes labelled with the data-mt-id of each visible interactive element.
(show) => {
  const old = document.getElementById('__mt_marks');
  if (old) old.remove();
  if (!show) return 0;
  const layer = document.createElement('div');
  layer.id = '__mt_marks';
  layer.style.cssText = 'position:fixed;left:0;top:0;width:0;height:0;z-index:2147483647;pointer-events:none';
  let n = 0;
  for (const e of document.querySelectorAll('[data-mt-id]')) {
    const r = e.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0 || r.bottom < 0 || r.top > innerHeight) continue;
    const box = document.createElement('div');
    box.style.cssText = `position:fixed;left:${r.left}px;top:${r.top}px;width:${r.width}px;` +
      `height:${r.height}px;outline:2px solid #e0218a;box-sizing:border-box`;
    const tag = document.createElement('span');
    tag.textContent = e.getAttribute('data-mt-id');
    // above the box, or below it when the box touches the top of the viewport
    const top = r.top >= 14 ? -14 : r.height;
    tag.style.cssText = `position:absolute;left:-2px;top:${top}px;background:#e0218a;` +
      'color:#fff;font:bold 11px monospace;padding:0 2px;line-height:13px';
    box.appendChild(tag);
    layer.appendChild(box);
    n += 1;
  }
  document.documentElement.appendChild(layer);
  return n;
}
