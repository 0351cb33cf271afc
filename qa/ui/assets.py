"""The page's CSS and the JavaScript its components run (Gradio's js_on_load and the page's js)."""

CSS = """
.qa-abstained { color: #6b7280; font-style: italic; border-left: 3px solid #d1d5db; padding-left: .6em; display: block; }
.qa-sources h2, .qa-doc h3 { margin: 0 0 .4em 0; font-size: 1rem; }
.qa-source { display: block; width: 100%; text-align: left; margin: 0 0 .5em 0; padding: .5em .7em;
  border: 1px solid #d1d5db; border-radius: 6px; background: #fafafa; cursor: pointer; font: inherit; color: inherit; }
.qa-source:hover, .qa-source:focus { border-color: #f97316; background: #fff7ed; }
.qa-meta { color: #6b7280; font-size: .9em; }
.qa-source blockquote { margin: .3em 0 0 0; padding-left: .6em; border-left: 3px solid #f97316; }
.qa-doc .qa-text { white-space: pre-wrap; line-height: 1.5; max-height: 28em; overflow-y: auto; position: relative; }
.qa-marker { font-weight: 600; text-decoration: none; white-space: nowrap; }
.qa-figures { border-collapse: collapse; margin-top: .6em; width: 100%; font-size: .92em; }
.qa-figures caption { text-align: left; font-weight: 600; padding-bottom: .3em; }
.qa-figures th, .qa-figures td { border: 1px solid #d1d5db; padding: .3em .5em; text-align: left; vertical-align: top; }
.qa-figures .qa-label { display: none; color: #6b7280; }
@media (max-width: 640px) {
  .qa-figures thead { display: none; }
  .qa-figures tr { display: block; border: 1px solid #d1d5db; border-radius: 6px; margin-bottom: .5em; padding: .3em .5em; }
  .qa-figures td { display: block; border: none; padding: .1em 0; }
  .qa-figures .qa-label { display: inline; }
}
.qa-examples { display: flex; flex-wrap: wrap; gap: .4em; align-items: center; }
.qa-example { text-align: left; padding: .3em .6em; border: 1px solid #d1d5db; border-radius: 6px; background: #fff; cursor: pointer; font: inherit; color: inherit; }
.qa-example:hover, .qa-example:focus { border-color: #f97316; background: #fff7ed; }
.qa-followup { display: block; color: #4b5563; font-size: .9em; }
.qa-doc mark { background: #fde68a; padding: 0 .1em; }
.qa-empty { color: #6b7280; }
#qa-documents { --font-mono: var(--font); }
#qa-documents table, #qa-documents td, #qa-documents th { font-family: var(--font); }
#qa-delete-confirm { padding: .5em .7em; }
.qa-compare h2 { margin: 0 0 .2em 0; font-size: 1rem; }
/* Outlets compared: side by side while each card has 13rem, one above the other on a phone. */
.qa-compare-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 13rem), 1fr));
  gap: .6em; margin-top: .4em; }
.qa-outlet { min-width: 0; overflow-wrap: anywhere; padding: .5em .7em; border: 1px solid #d1d5db; border-radius: 6px;
  background: #fafafa; }
.qa-outlet h3 { margin: 0 0 .3em 0; font-size: 1rem; color: #9a3412; }
.qa-outlet-answer { margin: 0 0 .4em 0; }
.qa-outlet-abstained .qa-outlet-answer { color: #6b7280; font-style: italic; }
.qa-outlet-cites { list-style: none; margin: 0; padding: 0; }
.qa-compare-source { display: block; width: 100%; text-align: left; margin: .3em 0 0 0; padding: .3em .5em;
  border: 1px solid #d1d5db; border-radius: 6px; background: #fff; cursor: pointer; font: inherit; font-size: .9em;
  color: inherit; overflow-wrap: anywhere; }
.qa-compare-source:hover, .qa-compare-source:focus { border-color: #f97316; background: #fff7ed; }
.qa-timeline ol { list-style: none; margin: 0; padding: 0; max-height: 36em; overflow-y: auto; }
.qa-tl-entry { display: block; width: 100%; text-align: left; margin: 0 0 .4em 0; padding: .4em .6em; border: 1px solid #d1d5db;
  border-radius: 6px; background: #fafafa; cursor: pointer; font: inherit; color: inherit; overflow-wrap: anywhere; }
.qa-tl-entry:hover, .qa-tl-entry:focus { border-color: #f97316; background: #fff7ed; }
.qa-tl-event { border-left: 4px solid #6366f1; }
.qa-tl-claim { border-left: 4px solid #f97316; }
.qa-tl-day { font-weight: 600; font-variant-numeric: tabular-nums; }
.qa-tl-report { font-size: .8em; color: #6b7280; border: 1px solid #d1d5db; border-radius: 4px; padding: 0 .3em; }
.qa-tl-entry blockquote { margin: .25em 0 0 0; padding-left: .6em; border-left: 3px solid #e5e7eb; display: -webkit-box;
  -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }
.qa-tl-cite { font-size: .8em; }
.qa-tl-legend { list-style: none; margin: .3em 0 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: .2em .9em; font-size: .9em; }
.qa-tl-legend li { margin: 0; padding: 0; }
.qa-tl-swatch { display: inline-block; width: .75em; height: .75em; border-radius: 50%; margin-right: .3em; }
#qa-tl-chart { padding-bottom: 24px; }
.qa-notice { margin: .3em 0; padding: .35em .6em; border-left: 3px solid #b91c1c; background: #fef2f2; color: #7f1d1d; }
"""

# A click on a source card, or on an answer's [n] in the chat, sends which passage it names; the
# server re-reads and checks it. The document view follows the answer whose sources are shown: a
# new answer, or an earlier one clicked, opens its first passage (an answer without one, none).
SOURCES_JS = """
const open = (from, user) => {
  window.qaScrollPage = user;
  trigger('click', {doc_id: from ? from.doc : '', start: from ? from.start : 0, end: from ? from.end : 0});
  // The passage asked for may be the one already open (nothing changes then): go to it all the same.
  if (user) setTimeout(() => {
    if (!window.qaScrollPage) return;
    window.qaScrollPage = false;
    document.querySelector('#qa-document').scrollIntoView({block: 'nearest'});
  }, 600);
};
window.qaOpenPassage = open;
element.addEventListener('click', (event) => {
  const card = event.target.closest('.qa-source');
  if (card && element.contains(card)) open(card.dataset, true);
});
if (!window.qaMarkersHeard) {
  window.qaMarkersHeard = true;
  document.addEventListener('click', (event) => {
    const marker = event.target.closest('#qa-chat .qa-marker');
    if (!marker) return;
    event.preventDefault();
    const [, doc, start, end] = marker.getAttribute('href').split('/');
    // A marker of an earlier answer also selects that answer, whose panel then comes: it opens
    // this passage, not its first.
    window.qaWanted = {doc: decodeURIComponent(doc), start, end};
    setTimeout(() => { window.qaWanted = null; }, 1500);
    window.qaOpenPassage(window.qaWanted, true);
  });
}
let shown = null;
new MutationObserver(() => {
  // (While an answer is on its way its panel only says so: the passage open stays till it comes.)
  if (element.querySelector('.qa-answering')) { shown = null; return; }
  const first = element.querySelector('.qa-source');
  const key = first ? [first.dataset.doc, first.dataset.start, first.dataset.end].join(':') : '';
  if (key !== shown) {
    shown = key;
    const wanted = window.qaWanted;
    window.qaWanted = null;
    open(wanted || (first && first.dataset), !!wanted);
  }
}).observe(element, {subtree: true, childList: true, characterData: true, attributes: true});
"""

# A citation in an outlet's card opens its passage as a source card does (through the sources
# panel's event: see SOURCES_JS, which defines qaOpenPassage).
COMPARE_JS = """
element.addEventListener('click', (event) => {
  const cite = event.target.closest('.qa-compare-source');
  if (cite && element.contains(cite) && window.qaOpenPassage) window.qaOpenPassage(cite.dataset, true);
});
"""

# An example clicked is typed into the question box, as if by hand (Gradio hears the input event).
EXAMPLES_JS = """
element.addEventListener('click', (event) => {
  const example = event.target.closest('.qa-example');
  const box = document.querySelector('#qa-question textarea');
  if (!example || !box) return;
  box.value = example.textContent;
  box.dispatchEvent(new Event('input', {bubbles: true}));
  box.focus();
});
"""

# The document view keeps its highlighted passage in view: inside its scrolling text always, and
# on the page too when the reader asked for it (not when a new answer opens it, which would carry
# a phone's page away from the answer).
VIEWER_JS = """
new MutationObserver(() => {
  const mark = element.querySelector('mark');
  if (!mark) return;
  const box = mark.closest('.qa-text');
  box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
  if (window.qaScrollPage) { window.qaScrollPage = false; element.scrollIntoView({block: 'nearest'}); }
}).observe(element, {subtree: true, childList: true, characterData: true, attributes: true});
"""

# A click on a timeline entry asks for its sentence in its report (the server re-reads and checks
# it), shown in the tab's own document view, which the page then scrolls to.
TIMELINE_JS = """
element.addEventListener('click', (event) => {
  const entry = event.target.closest('.qa-tl-entry');
  if (!entry || !element.contains(entry)) return;
  window.qaScrollPage = true;
  trigger('click', {doc_id: entry.dataset.doc, start: entry.dataset.start, end: entry.dataset.end});
});
"""

# Every mistake a handler sees is shown in place (see shown_in_place); what Gradio itself refuses
# before a handler runs (a file over the size limit) gets its toast, which goes by itself, and an
# "Error" badge over the component that stays until closed and blocks clicks into it: the page
# closes those badges itself. A chat message's accessible label is Gradio's raw Markdown ("\\.",
# "**"): the page labels each by what it shows.
PAGE_JS = """
() => {
  const tidy = () => {
    document.querySelectorAll('[data-testid="status-tracker"] .error').forEach((badge) => {
      badge.closest('[data-testid="status-tracker"]').querySelector('.clear-status button')?.click();
    });
    document.querySelectorAll('#qa-chat .message > [aria-label]').forEach((message) => {
      const label = (message.closest('.bot-row') ? 'Answer: ' : 'Question: ') + message.innerText.trim();
      if (message.getAttribute('aria-label') !== label) message.setAttribute('aria-label', label);
    });
  };
  new MutationObserver(tidy).observe(document.body, {subtree: true, childList: true, characterData: true, attributeFilter: ['aria-label']});
}
"""
