// claimwatch web: the only script besides htmx (served from the package; the CSP allows no other).
// htmx requests carry the session's CSRF token in a header, as the server requires for changes.
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    event.detail.headers["X-CSRF-Token"] = meta.getAttribute("content");
  }
});
