// Citation previews: hovering over or focusing an in-text citation shows the formatted
// reference from the page's own reference list, without leaving the sentence.
// Progressive enhancement: without JavaScript a citation is a plain link to that list.
// Loaded with `defer` from 'self' (the Content-Security-Policy forbids inline script).
// The preview follows WCAG 1.4.13: Escape dismisses it, the pointer can move onto it, and it
// stays until the pointer or focus leaves.

(function () {
  "use strict";

  const links = document.querySelectorAll("a.cite[href^='#ref-']");
  if (links.length === 0) {
    return;
  }

  const tip = document.createElement("div");
  tip.id = "citation-preview";
  tip.className = "citation-preview";
  tip.setAttribute("role", "tooltip");
  tip.hidden = true;
  document.body.appendChild(tip);

  let current = null;
  let hideTimer = 0;

  // The reference list entry, without its "About this source" link and with its links turned
  // into text: a tooltip holds no controls.
  function previewOf(link) {
    const entry = document.getElementById(link.getAttribute("href").slice(1));
    if (entry === null) {
      return null;
    }
    const copy = entry.cloneNode(true);
    copy.querySelectorAll(".reference-page").forEach((node) => node.remove());
    copy.querySelectorAll("a").forEach((node) => node.replaceWith(...node.childNodes));
    copy.querySelectorAll("[id]").forEach((node) => node.removeAttribute("id"));
    const fragment = document.createDocumentFragment();
    fragment.append(...copy.childNodes);
    return fragment;
  }

  function place(link) {
    const box = link.getBoundingClientRect();
    const width = Math.min(448, document.documentElement.clientWidth - 16);
    const left = Math.max(8, Math.min(box.left, document.documentElement.clientWidth - width - 8));
    tip.style.maxWidth = width + "px";
    tip.style.left = left + window.scrollX + "px";
    tip.style.top = box.bottom + window.scrollY + 6 + "px";
  }

  function show(link) {
    window.clearTimeout(hideTimer);
    if (current === link) {
      return;
    }
    hide();
    const preview = previewOf(link);
    if (preview === null) {
      return;
    }
    tip.replaceChildren(preview);
    tip.hidden = false;
    // The native title tooltip would repeat the same text on top of ours.
    link.dataset.title = link.getAttribute("title") || "";
    link.removeAttribute("title");
    link.setAttribute("aria-describedby", tip.id);
    place(link);
    current = link;
  }

  function hide() {
    window.clearTimeout(hideTimer);
    if (current === null) {
      return;
    }
    tip.hidden = true;
    current.removeAttribute("aria-describedby");
    if (current.dataset.title) {
      current.setAttribute("title", current.dataset.title);
    }
    current = null;
  }

  function hideSoon() {
    window.clearTimeout(hideTimer);
    hideTimer = window.setTimeout(hide, 300);
  }

  links.forEach((link) => {
    link.addEventListener("mouseenter", () => show(link));
    link.addEventListener("focus", () => show(link));
    link.addEventListener("mouseleave", hideSoon);
    link.addEventListener("blur", hide);
  });
  tip.addEventListener("mouseenter", () => window.clearTimeout(hideTimer));
  tip.addEventListener("mouseleave", hideSoon);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      hide();
    }
  });
})();
