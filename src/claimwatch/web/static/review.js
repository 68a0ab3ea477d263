// claimwatch review queue: the keyboard (j/k move between cards, c confirm, r reject, n note,
// Escape leaves the note) and, after htmx redraws a decided card, focus on the next card waiting.
// A file, not inline script: the CSP allows scripts from this site only.
(function () {
  "use strict";

  function cards() {
    return Array.prototype.slice.call(document.querySelectorAll(".card"));
  }

  function current() {
    var el = document.activeElement;
    return el && el.closest ? el.closest(".card") : null;
  }

  function focusCard(card) {
    if (card) {
      card.focus();
      card.scrollIntoView({ block: "nearest" });
    }
  }

  function move(step) {
    var list = cards();
    if (!list.length) return;
    var i = list.indexOf(current());
    var next = i < 0 ? 0 : Math.min(list.length - 1, Math.max(0, i + step));
    focusCard(list[next]);
  }

  function press(card, what) {
    var button = card && card.querySelector('button[data-key="' + what + '"]');
    if (button && !button.disabled) button.click();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target.matches && target.matches("input, textarea, select")) {
      if (event.key === "Escape") {
        var owner = target.closest(".card");
        target.blur();
        focusCard(owner);
        event.preventDefault();
      }
      return;
    }
    var card = current();
    if (event.key === "j") move(1);
    else if (event.key === "k") move(-1);
    else if (event.key === "c") press(card, "confirm");
    else if (event.key === "r") press(card, "reject");
    else if (event.key === "n" && card && card.querySelector("input[name=note]")) card.querySelector("input[name=note]").focus();
    else return;
    event.preventDefault();
  });

  // Remember which card asked; once its new state is in, focus the next card still pending
  // (or the same card when the decision met a conflict: its message is to be read first). A
  // rejected proposal may leave weak candidates on the card (still "pending" by its class): it
  // has left this queue all the same, so the cards decided here are remembered apart.
  var deciding = null;
  var decidedHere = {};
  function waiting(c) {
    return c.classList.contains("pending") && !decidedHere[c.id];
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var card = event.detail.elt.closest ? event.detail.elt.closest(".card") : null;
    deciding = card ? card.id : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    var card = deciding && document.getElementById(deciding);
    deciding = null;
    if (!card) return;
    if (card.classList.contains("conflict")) {
      focusCard(card);
      return;
    }
    decidedHere[card.id] = true;
    var list = cards();
    var after = list.slice(list.indexOf(card) + 1);
    var next = after.filter(waiting)[0];
    if (!next && !list.some(waiting)) {
      nextBatch();
      return;
    }
    focusCard(next || after[0] || card);
  });

  // The page's last pending card decided while the queue holds more posts than the page shows:
  // the queue page again, same filters and offset, brings the next ones (the decided posts have
  // left the queue, so its "next" link would skip as many), and the keyboard carries on from its
  // first card. A page showing the whole queue stays, its last card's outcome in view.
  var RESUME = "claimwatch.review.resume";
  function nextBatch() {
    var queue = document.querySelector(".queue[data-remaining]"); // posts from this page's offset on
    if (!queue || Number(queue.getAttribute("data-remaining")) <= cards().length) return;
    try { sessionStorage.setItem(RESUME, "1"); } catch (e) { /* storage off: press j after the reload */ }
    window.location.reload();
  }
  try {
    if (sessionStorage.getItem(RESUME)) {
      sessionStorage.removeItem(RESUME);
      focusCard(document.querySelector(".card.pending"));
    }
  } catch (e) { /* storage off */ }
})();
