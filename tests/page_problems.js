// Runs in each page of the built book (tests/browser.py): every problem a reader would meet.
() => {
  const problems = [];
  const width = window.innerWidth;
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  const visible = (el) => el.getClientRects().length > 0 &&
    getComputedStyle(el).visibility !== 'hidden';
  const scrolls = (el, stop) => {
    for (let node = el.parentElement; node && node !== stop; node = node.parentElement) {
      const overflow = getComputedStyle(node).overflowX;
      if (overflow === 'auto' || overflow === 'scroll' || overflow === 'hidden') return true;
    }
    return false;
  };
  if (document.documentElement.scrollWidth > width + 1) {
    problems.push(`page is ${document.documentElement.scrollWidth}px wide in a ${width}px window`);
  }
  for (const img of document.images) {
    if (visible(img) && (!img.complete || img.naturalWidth === 0)) {
      problems.push(`image did not load: ${img.getAttribute('src')}`);
    }
  }
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  if (article) {
    const right = article.getBoundingClientRect().right;
    for (const el of article.querySelectorAll('table, img, figure, svg, pre, .cell_output, .pluralign-table')) {
      if (!visible(el)) continue;
      const box = el.getBoundingClientRect();
      if (box.right > width + 1) {
        if (!scrolls(el, document.body)) problems.push(`${describe(el)} runs past the window (${Math.round(box.right)}px)`);
      } else if (box.right > right + 1 && !scrolls(el, article)) {
        problems.push(`${describe(el)} is wider than the content column (${Math.round(box.right)} > ${Math.round(right)}px)`);
      }
    }
    for (const input of article.querySelectorAll('.cell_input')) {
      const folded = input.closest('details');
      if (visible(input) && !(folded && !folded.open)) {
        problems.push(`code cell shown expanded: ${input.textContent.trim().slice(0, 60)}`);
      }
    }
  }
  return problems;
}
