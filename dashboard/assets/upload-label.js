// dcc.Upload renders a bare <input type="file">: give it the name its box shows (screen readers,
// axe-core's "label" rule), whenever one appears or its box's text changes.
(function () {
  function label() {
    document.querySelectorAll('.photo-upload').forEach(function (box) {
      var input = box.querySelector('input[type="file"]');
      var text = (box.innerText || '').trim();
      if (input && text && input.getAttribute('aria-label') !== text) {
        input.setAttribute('aria-label', text);
      }
    });
  }
  new MutationObserver(label).observe(document.documentElement,
                                      {childList: true, subtree: true, characterData: true});

  // dcc.Upload drops a file over its max_size without a word: say so, in the page's language
  // (the box carries the limit and the sentence: dashboard.case_view.too_big_attrs). The
  // server refuses such a photo as well; this is what the person holding the phone sees.
  function refuse(event) {
    var box = event.target.closest && event.target.closest('.photo-upload');
    if (!box) { return; }
    var rule = box.querySelector('[data-max-bytes]');
    var files = (event.dataTransfer || event.target).files;
    if (!rule || !files) { return; }
    var limit = Number(rule.getAttribute('data-max-bytes'));
    var big = Array.prototype.filter.call(files, function (f) { return f.size > limit; });
    var actions = box.closest('.case-actions');
    var say = actions && actions.querySelector('.photo-refused');
    if (!say) { return; }
    say.textContent = big.map(function (f) {
      return rule.getAttribute('data-too-big').replace('{name}', f.name)
        .replace('{size}', (f.size / 1048576).toFixed(1));
    }).join(' ');
  }
  document.addEventListener('change', refuse, true);
  document.addEventListener('drop', refuse, true);
})();
