// Replenish dashboard: live order status, and copying a sign-in link. Everything works without it too.
(function () {
  "use strict";

  function pollOrders(box) {
    var url = box.getAttribute("data-poll");
    var status = document.getElementById("live-status");
    var every = 4000, failures = 0;
    function tick() {
      if (document.hidden) { return schedule(); }
      var digest = box.getAttribute("data-digest") || "";
      fetch(url + "?digest=" + encodeURIComponent(digest), {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) {
          if (r.status === 401) { window.location.reload(); throw new Error("signed out"); }
          if (!r.ok) { throw new Error("HTTP " + r.status); }
          return r.json();
        })
        .then(function (body) {
          failures = 0;
          if (status) { status.textContent = "Updates live"; status.classList.remove("stale"); }
          if (body.html !== undefined && body.digest !== digest) {
            box.innerHTML = body.html;
            box.setAttribute("data-digest", body.digest);
          }
        })
        .catch(function () {
          failures += 1;
          if (status) { status.textContent = "Reconnecting…"; status.classList.add("stale"); }
        })
        .then(schedule);
    }
    function schedule() { setTimeout(tick, Math.min(every * Math.pow(2, failures), 60000)); }
    schedule();
  }

  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var field = document.querySelector(button.getAttribute("data-copy"));
        if (!field) { return; }
        field.select();
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
        } else { document.execCommand("copy"); done(); }
      });
    });
  }

  // A second click on a submit button while its form is on its way does nothing.
  function oncePerSubmit() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (form.getAttribute("data-sent")) { event.preventDefault(); return; }
      form.setAttribute("data-sent", "1");
    });
    window.addEventListener("pageshow", function () {
      document.querySelectorAll("form[data-sent]").forEach(function (f) { f.removeAttribute("data-sent"); });
    });
  }

  // A delivery photo that cannot be fetched becomes a short note instead of a broken image.
  function photoFallback() {
    document.addEventListener("error", function (event) {
      var img = event.target;
      if (!img || img.tagName !== "IMG" || !img.closest(".photo")) { return; }
      var note = document.createElement("p");
      note.className = "photo-missing";
      note.textContent = "The delivery photo could not be loaded.";
      img.replaceWith(note);
    }, true);
  }

  photoFallback();
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("orders");
    if (box && window.fetch) { pollOrders(box); }
    copyButtons();
    oncePerSubmit();
  });
})();
