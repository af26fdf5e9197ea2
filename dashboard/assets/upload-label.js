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
})();
