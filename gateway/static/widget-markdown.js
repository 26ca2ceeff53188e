// Safe markdown for the assistant's replies: **bold**, "- " / "1. " lists, [links](url)
// and bare http(s) URLs, paragraphs and line breaks. It builds DOM nodes whose text is
// always set through text nodes: bot text is never parsed as HTML, and a link is made
// only for http: and https: URLs (javascript:, data: … stay plain text).
"use strict";
(() => {
  const INLINE =
    /\*\*([^*\n]+?)\*\*|\[([^\]\n]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>()]*[^\s<>().,;:!?'"])/g;

  function safeUrl(href) {
    try {
      const url = new URL(href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  function link(label, href) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = label;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  function inline(parent, text) {
    let last = 0;
    for (const m of text.matchAll(INLINE)) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      if (m[1] !== undefined) {
        const strong = document.createElement("strong");
        strong.textContent = m[1];
        parent.appendChild(strong);
      } else {
        const href = safeUrl(m[3] !== undefined ? m[3] : m[4]);
        const label = m[2] !== undefined ? m[2] : m[4];
        parent.appendChild(href ? link(label, href) : document.createTextNode(m[0]));
      }
      last = m.index + m[0].length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function render(text) {
    const out = document.createDocumentFragment();
    let list = null;
    let para = null;
    for (const line of String(text).split("\n")) {
      const bullet = /^\s*[-*•]\s+(.*)$/.exec(line);
      const numbered = bullet ? null : /^\s*\d{1,3}[.)]\s+(.*)$/.exec(line);
      const item = bullet || numbered;
      if (item) {
        const tag = bullet ? "ul" : "ol";
        if (!list || list.localName !== tag) {
          list = document.createElement(tag);
          out.appendChild(list);
        }
        const li = document.createElement("li");
        inline(li, item[1]);
        list.appendChild(li);
        para = null;
        continue;
      }
      list = null;
      if (!line.trim()) { para = null; continue; }
      if (para) para.appendChild(document.createElement("br"));
      else { para = document.createElement("p"); out.appendChild(para); }
      inline(para, line);
    }
    return out;
  }

  window.BankWidgetMarkdown = { render, safeUrl };
})();
