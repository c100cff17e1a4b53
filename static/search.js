// Full-text search for /search/, run in the browser over the Pagefind index made at build time.
// Progressive enhancement: without JavaScript the form stays hidden and the page is a list of
// every page. Loaded as a module from 'self' (the Content-Security-Policy forbids inline script).

const form = document.querySelector(".search-form");
const input = document.getElementById("search-input");
const status = document.getElementById("search-status");
const results = document.getElementById("search-results");
// The index sits next to static/ in the built site, wherever the site is hosted.
const folder = new URL("../pagefind/", import.meta.url);
// Results are shown (and their excerpts fetched) this many at a time: a common word on a big
// site matches thousands of pages, and each shown result is one more request.
const PAGE_SIZE = 20;
const EXCERPT_LENGTH = 24;

// Each shard's pages carry this filter, valued with the shard's number.
const SHARD = "shard";

let pagefind = null;
let sharded = false;
let latest = 0; // answers to earlier keystrokes must not replace newer ones

// A big site's index is in shards (src/backpain_site/search_index.py): the first is loaded as
// Pagefind's own, and shards.json lists the others, merged into it before the first search.
async function load() {
  const engine = await import(new URL("pagefind.js", folder).href);
  await engine.options({ excerptLength: EXCERPT_LENGTH });
  await engine.init();
  const response = await fetch(new URL("shards.json", folder));
  if (!response.ok) {
    throw new Error(`search index: ${response.status}`);
  }
  const { merge } = await response.json();
  if (merge.length > 0) {
    await engine.options({ mergeFilter: { [SHARD]: "0" } });
  }
  await Promise.all(
    merge.map((part, index) =>
      engine.mergeIndex(new URL(part, folder).pathname, {
        excerptLength: EXCERPT_LENGTH,
        mergeFilter: { [SHARD]: String(index + 1) },
      }),
    ),
  );
  sharded = merge.length > 0;
  return engine;
}

// Pagefind answers a word that is in no word of an index with the index's longest word that
// begins it ("ac", an author's initials, for "acupuncture"). One index over the whole site does
// that only when the word is nowhere on the site, but each shard does it when the word is not
// in that shard: so a word found whole in some shards is looked for in those shards only.
async function find(engine, term) {
  const everywhere = await engine.search(term);
  if (!sharded) {
    return everywhere.results;
  }
  let shards = null;
  for (const word of term.replaceAll('"', " ").split(/\s+/).filter(Boolean)) {
    const counts = (await engine.search(`"${word}"`)).filters[SHARD] ?? {};
    const holding = Object.keys(counts).filter((shard) => counts[shard] > 0);
    if (holding.length > 0) {
      shards = shards === null ? holding : shards.filter((shard) => holding.includes(shard));
    }
  }
  if (shards === null) {
    return everywhere.results;
  }
  const within = await engine.search(term, { filters: { [SHARD]: { any: shards } } });
  return within.results;
}

function engine() {
  if (pagefind === null) {
    pagefind = load();
    pagefind.catch(() => {
      pagefind = null; // a failed load (offline) is tried again at the next search
    });
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

function resultItem(page) {
  const item = document.createElement("li");
  const link = document.createElement("a");
  link.href = page.url;
  link.textContent = page.meta.title || page.url;
  const excerpt = document.createElement("p");
  excerpt.append(...excerptNodes(page.excerpt));
  item.append(link, excerpt);
  return item;
}

// Shows the results from `shown` on, PAGE_SIZE of them, and a button for the next ones.
async function showFrom(term, found, shown, list, ticket) {
  const pages = await Promise.all(
    found.slice(shown, shown + PAGE_SIZE).map((result) => result.data()),
  );
  if (ticket !== latest) {
    return;
  }
  const items = pages.map(resultItem);
  list.append(...items);
  results.querySelector(".search-more")?.remove();
  const next = shown + pages.length;
  if (next < found.length) {
    const more = document.createElement("button");
    more.type = "button";
    more.className = "search-more";
    more.textContent = `Show ${Math.min(PAGE_SIZE, found.length - next)} more`;
    more.addEventListener("click", async () => {
      more.disabled = true;
      await showFrom(term, found, next, list, ticket);
    });
    results.append(more);
  }
  if (shown > 0 && items.length > 0) {
    items[0].querySelector("a").focus(); // the keyboard continues at the first new result
  }
}

async function show(term, found, ticket) {
  results.replaceChildren();
  if (found.length === 0) {
    status.textContent = `No pages match “${term}”. Try another word, or browse every page below.`;
    return;
  }
  status.textContent = `${found.length} ${found.length === 1 ? "page matches" : "pages match"} “${term}”.`;
  const list = document.createElement("ol");
  list.className = "search-result-list";
  results.append(list);
  await showFrom(term, found, 0, list, ticket);
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
    const found = await find(await engine(), term);
    if (ticket === latest) {
      await show(term, found, ticket);
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
