// The chat page: asks /api/chat with streaming, renders numbered citations,
// and opens the cited article with the quoted passage highlighted.
// No framework and no CDN; text from the server is only ever set as textContent.

const $ = (id) => document.getElementById(id);
const messagesEl = $("messages");
const form = $("composer");
const input = $("question");
const sendButton = $("send");

const history = []; // {role, content} turns sent as context for follow-ups
const sourceCache = new Map();
let busy = false;

// --- HTTP -------------------------------------------------------------------

async function api(path, options = {}, retried = false) {
  const headers = { ...(options.headers || {}) };
  const token = sessionStorage.getItem("qa-token");
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401 && !retried) {
    const entered = window.prompt("This server needs an access token (QA_API_TOKEN):");
    if (entered) {
      sessionStorage.setItem("qa-token", entered.trim());
      return api(path, options, true);
    }
  }
  return response;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") return body.error;
  } catch (_) { /* not JSON */ }
  return `the server answered ${response.status}`;
}

async function* serverSentEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

// --- rendering ----------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function scrollToEnd() {
  messagesEl.scrollTop = messagesEl.scrollHeight;
}

function addUserMessage(text) {
  $("welcome")?.remove();
  const node = el("article", "msg user");
  node.append(el("div", "bubble", text));
  messagesEl.append(node);
  scrollToEnd();
}

function addAssistantMessage() {
  const node = el("article", "msg assistant");
  const body = el("div", "bubble");
  const text = el("div", "text draft");
  const typing = el("div", "typing", "Searching the articles");
  body.append(typing, text);
  node.append(body);
  messagesEl.append(node);
  scrollToEnd();
  return { node, body, text, typing, draft: "" };
}

function citationButton(n, answer, className) {
  const button = el("button", className);
  button.type = "button";
  button.dataset.n = String(n);
  button.title = answer.citations[n - 1].source;
  button.addEventListener("click", () => openSource(answer.citations[n - 1], n));
  return button;
}

// Answer text with its [n] markers turned into buttons; markers are appended when absent.
function renderAnswerText(target, answer) {
  target.replaceChildren();
  let text = answer.answer;
  if (answer.citations.length && !/\[\d+\]/.test(text)) {
    text += " " + answer.citations.map((_, i) => `[${i + 1}]`).join("");
  }
  for (const part of text.split(/(\[\d+\])/)) {
    const match = /^\[(\d+)\]$/.exec(part);
    const n = match ? Number(match[1]) : 0;
    if (n >= 1 && n <= answer.citations.length) {
      const marker = citationButton(n, answer, "marker");
      marker.textContent = String(n);
      target.append(marker);
    } else if (part) {
      target.append(document.createTextNode(part));
    }
  }
}

function renderCitations(answer) {
  const list = el("ol", "citations");
  answer.citations.forEach((cite, i) => {
    const item = el("li");
    const button = citationButton(i + 1, answer, "citation");
    const quote = cite.quote.replace(/\s+/g, " ").trim();
    button.append(
      el("span", "num", String(i + 1)),
      el("span", "src", cite.source),
      el("span", "quote", `“${quote.length > 220 ? quote.slice(0, 220) + "…" : quote}”`),
    );
    item.append(button);
    list.append(item);
  });
  return list;
}

const MODE_LABEL = {
  extractive: "No supported answer",
  refused: "Not in the articles",
};

function renderAnswer(view, answer) {
  view.typing.remove();
  view.text.classList.remove("draft");
  view.node.lang = answer.language;
  renderAnswerText(view.text, answer);
  if (MODE_LABEL[answer.mode]) view.body.prepend(el("div", `badge ${answer.mode}`, MODE_LABEL[answer.mode]));
  if (view.draft && answer.mode !== "generated") {
    view.body.append(el("p", "note", "The draft did not pass the check against the sources and was replaced."));
  }
  if (answer.citations.length) view.body.append(renderCitations(answer));
  const seconds = (answer.timings.total_ms / 1000).toFixed(1);
  const meta = el("div", "meta", `${answer.mode} · ${seconds} s`);
  meta.title = `${answer.backend.llm} · ${answer.backend.embedder}${answer.notes.length ? "\n" + answer.notes.join("\n") : ""}`;
  view.body.append(meta);
  scrollToEnd();
}

function renderError(view, message) {
  view.typing.remove();
  view.text.classList.remove("draft");
  view.node.classList.add("error");
  view.text.textContent = message;
  scrollToEnd();
}

// --- asking -------------------------------------------------------------------------

async function ask(question) {
  busy = true;
  sendButton.disabled = true;
  addUserMessage(question);
  const view = addAssistantMessage();
  const messages = [...history, { role: "user", content: question }];
  try {
    const response = await api("/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ messages, stream: true }),
    });
    if (!response.ok) {
      renderError(view, await errorMessage(response));
      return;
    }
    for await (const { event, data } of serverSentEvents(response)) {
      if (event === "delta") {
        view.typing.textContent = "Writing, then checking against the sources";
        view.draft += data.text;
        view.text.textContent = view.draft;
        scrollToEnd();
      } else if (event === "answer") {
        renderAnswer(view, data);
        history.push({ role: "user", content: question }, { role: "assistant", content: data.answer });
      } else if (event === "error") {
        renderError(view, data.error);
      }
    }
  } catch (err) {
    renderError(view, `The request failed: ${err.message}`);
  } finally {
    busy = false;
    sendButton.disabled = false;
    input.focus();
  }
}

// --- sources ------------------------------------------------------------------------

async function sourceText(name) {
  if (!sourceCache.has(name)) {
    const path = name.split("/").map(encodeURIComponent).join("/");
    const response = await api(`/api/sources/${path}`);
    if (!response.ok) throw new Error(await errorMessage(response));
    sourceCache.set(name, (await response.json()).text);
  }
  return sourceCache.get(name);
}

async function openSource(cite, n) {
  const panel = $("source");
  const body = $("source-text");
  panel.hidden = false;
  document.body.classList.add("with-source");
  $("source-label").textContent = `Source ${n}`;
  $("source-name").textContent = cite.source;
  body.replaceChildren(el("p", "loading", "Loading…"));
  try {
    const text = await sourceText(cite.source);
    const mark = el("mark", "quote-highlight", text.slice(cite.start, cite.end));
    mark.id = "highlight";
    body.replaceChildren(
      document.createTextNode(text.slice(0, cite.start)),
      mark,
      document.createTextNode(text.slice(cite.end)),
    );
    mark.scrollIntoView({ block: "center" });
  } catch (err) {
    body.replaceChildren(el("p", "error-text", `Could not load the source: ${err.message}`));
  }
}

function closeSource() {
  $("source").hidden = true;
  document.body.classList.remove("with-source");
}

// --- status ---------------------------------------------------------------------------

async function refreshStatus() {
  const pill = $("status");
  try {
    const response = await fetch("/health");
    const health = await response.json();
    if (health.status === "ok") {
      pill.dataset.state = health.generator === "ready" ? "ok" : "warn";
      pill.textContent = `${health.sources} articles · ${health.chunks} passages`;
      pill.title = health.generator === "ready" ? "Ready" : `Model unavailable: ${health.generator}`;
      return;
    }
    pill.dataset.state = health.status === "failed" ? "error" : "loading";
    pill.textContent = health.status === "failed" ? "Startup failed" : "Loading…";
    pill.title = health.error || health.stage;
  } catch (_) {
    pill.dataset.state = "error";
    pill.textContent = "Offline";
  }
  setTimeout(refreshStatus, 2000);
}

// --- wiring ---------------------------------------------------------------------------

function autosize() {
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const question = input.value.trim();
  if (!question || busy) return;
  input.value = "";
  autosize();
  ask(question);
});

input.addEventListener("input", autosize);
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

for (const button of document.querySelectorAll(".example")) {
  button.addEventListener("click", () => {
    input.value = button.textContent;
    form.requestSubmit();
  });
}

$("source-close").addEventListener("click", closeSource);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") closeSource();
});
$("new-chat").addEventListener("click", () => window.location.reload());

refreshStatus();
input.focus();
