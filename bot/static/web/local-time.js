// Adds the viewer's local time beside each UTC time on the page, where the browser knows its
// time zone. The page reads the same without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  let zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (_) {
    return;
  }
  if (!zone || zone === "UTC" || zone === "Etc/UTC") {
    return;
  }
  const format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  });
  for (const el of document.querySelectorAll("time[datetime]")) {
    const at = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(at.getTime())) {
      continue;
    }
    const local = document.createElement("span");
    local.className = "local";
    local.textContent = " (" + format.format(at) + ")";
    el.after(local);
  }
});
