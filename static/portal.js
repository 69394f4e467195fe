// Small progressive enhancements; every page works without this file.
document.addEventListener("htmx:responseError", function (event) {
  // A failed HTMX request (network, 5xx, 429) must not fail silently.
  var status = event.detail.xhr ? event.detail.xhr.status : 0;
  var box = document.getElementById("htmx-error");
  if (!box) {
    box = document.createElement("p");
    box.id = "htmx-error";
    box.className = "flash flash-error";
    box.setAttribute("role", "alert");
    document.getElementById("main").prepend(box);
  }
  box.textContent = status === 429
    ? "Too many attempts. Wait a minute and try again."
    : "That didn't work. Reload the page and try again.";
});
