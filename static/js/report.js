/* Copy and print buttons of the Results paragraph page.
 *
 * The page prints the paragraph alone: its own controls carry Bootstrap's
 * d-print-none, and so does the site navigation, marked here because the
 * content security policy allows no inline print stylesheet.
 *
 * The Clipboard API only exists on secure origins (https or localhost); a
 * hospital intranet served over plain http falls back to selecting the text
 * and the older copy command, so the button works everywhere.
 */
(function () {
  "use strict";

  function plainText(element) {
    return element.innerText.replace(/\s+/g, " ").trim();
  }

  function copyBySelection(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    const copied = document.execCommand("copy");
    selection.removeAllRanges();
    return copied;
  }

  async function copy(button) {
    const target = document.getElementById(button.dataset.copyTarget);
    let copied = false;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(plainText(target));
        copied = true;
      } catch (error) {
        copied = false;
      }
    }
    if (!copied) {
      copied = copyBySelection(target);
    }
    if (copied) {
      const label = button.textContent;
      button.textContent = button.dataset.copied;
      window.setTimeout(function () { button.textContent = label; }, 1500);
    }
  }

  document.querySelectorAll("nav.navbar").forEach(function (nav) {
    nav.classList.add("d-print-none");
  });
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    button.addEventListener("click", function () { copy(button); });
  });
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
