// Full-text search for /search/, run in the browser over the Pagefind index made at build time.
// Progressive enhancement: without JavaScript the form stays hidden and the page is a list of
// every page. Loaded as a module from 'self' (the Content-Security-Policy forbids inline script).

const form = document.querySelector(".search-form");
const input = document.getElementById("search-input");
const status = document.getElementById("search-status");
const results = document.getElementById("search-results");
// The index sits next to static/ in the built site, wherever the site is hosted.
const bundle = new URL("../pagefind/pagefind.js", import.meta.url).href;

let pagefind = null;
let latest = 0; // answers to earlier keystrokes must not replace newer ones

async function engine() {
  if (pagefind === null) {
    pagefind = await import(bundle);
    await pagefind.options({ excerptLength: 24 });
    await pagefind.init();
  }
  return pagefind;
}

// Pagefind's excerpts are escaped text with <mark> around the matches; keep only those two
// things, so nothing from the index can become markup.
function excerptNodes(excerpt) {
  const template = document.createElement("template");
  template.innerHTML = excerpt;
  return Array.from(template.content.childNodes, (node) => {
    if (node.nodeName === "MARK") {
      const mark = document.createElement("mark");
      mark.textContent = node.textContent;
      return mark;
    }
    return document.createTextNode(node.textContent);
  });
}

function show(term, pages) {
  results.replaceChildren();
  if (pages.length === 0) {
    status.textContent = `No pages match “${term}”. Try another word, or browse every page below.`;
    return;
  }
  status.textContent = `${pages.length} ${pages.length === 1 ? "page matches" : "pages match"} “${term}”.`;
  const list = document.createElement("ol");
  list.className = "search-result-list";
  for (const page of pages) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = page.url;
    link.textContent = page.meta.title || page.url;
    const excerpt = document.createElement("p");
    excerpt.append(...excerptNodes(page.excerpt));
    item.append(link, excerpt);
    list.append(item);
  }
  results.append(list);
}

async function run() {
  const term = input.value.trim();
  const ticket = ++latest;
  if (term === "") {
    results.replaceChildren();
    status.textContent = "";
    return;
  }
  try {
    const search = await (await engine()).search(term);
    const pages = await Promise.all(search.results.map((result) => result.data()));
    if (ticket === latest) {
      show(term, pages);
    }
  } catch (problem) {
    if (ticket === latest) {
      status.textContent = "Search is not working at the moment. Every page is listed below.";
    }
    throw problem;
  }
}

let timer = 0;
input.addEventListener("input", () => {
  window.clearTimeout(timer);
  timer = window.setTimeout(run, 150);
});
form.addEventListener("submit", (event) => {
  event.preventDefault();
  const url = new URL(window.location.href);
  url.searchParams.set("q", input.value.trim());
  window.history.replaceState(null, "", url);
  run();
});

form.hidden = false;
const asked = new URLSearchParams(window.location.search).get("q");
if (asked) {
  input.value = asked;
  run();
}
