"""Targets in a Playwright page: a locator's visible centre, and what element sits at a point."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from guiagent.tools import Action
from guiagent.tools.targets import ElementInfo, LocatedElement, Target, TargetError

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

# Describes an element in one round trip: its CSS path, a selector unique in the page (an id, a
# distinctive attribute, else the path from the nearest unique id), its text, an approximate ARIA role
# and name, and its box. The element at a point climbs to the control it belongs to (a label inside a
# button, the <b> in a link).
_DESCRIBE_JS = r"""
const TEXT_CAP = 80;
const INTERACTIVE = "a[href],button,input,select,textarea,summary,label,[role],[onclick],[tabindex]";
const ATTRS = ["data-testid", "data-test", "name", "aria-label", "title", "placeholder", "alt", "data-value"];
const unique = s => { try { return document.querySelectorAll(s).length === 1; } catch (e) { return false; } };
const quote = v => '"' + v.replace(/["\\]/g, "\\$&") + '"';
function step(node) {
  const same = node.parentElement ? [...node.parentElement.children].filter(c => c.localName === node.localName) : [];
  return same.length > 1 ? `${node.localName}:nth-of-type(${same.indexOf(node) + 1})` : node.localName;
}
function path(el) {
  const parts = [];
  for (let n = el; n && n.nodeType === 1; n = n.parentElement) parts.unshift(step(n));
  return parts.join(" > ");
}
function selector(el) {
  if (el.id && unique("#" + CSS.escape(el.id))) return "#" + CSS.escape(el.id);
  for (const a of ATTRS) {
    const v = el.getAttribute(a);
    if (v && v.length <= 80 && unique(`${el.localName}[${a}=${quote(v)}]`)) return `${el.localName}[${a}=${quote(v)}]`;
  }
  const parts = [];
  for (let n = el; n && n.nodeType === 1 && n !== document.documentElement; n = n.parentElement) {
    if (n !== el && n.id && unique("#" + CSS.escape(n.id))) { parts.unshift("#" + CSS.escape(n.id)); break; }
    parts.unshift(step(n));
  }
  return parts.join(" > ");
}
function role(el) {
  const explicit = el.getAttribute("role");
  if (explicit) return explicit.split(" ")[0];
  const t = el.localName, type = (el.getAttribute("type") || "text").toLowerCase();
  if (t === "a" && el.hasAttribute("href")) return "link";
  if (t === "button" || (t === "input" && ["button", "submit", "reset"].includes(type))) return "button";
  if (t === "input" && (type === "checkbox" || type === "radio")) return type;
  if (t === "input" && ["text", "email", "search", "tel", "url", "number"].includes(type)) return "textbox";
  if (t === "textarea") return "textbox";
  if (t === "select") return "combobox";
  if (/^h[1-6]$/.test(t)) return "heading";
  return null;
}
// What a person sees of an element: its rendered text (innerText: no <script> or <style> source, nothing hidden),
// whitespace folded, capped; an element without innerText (SVG) gives none.
function visible(el) {
  const text = typeof el.innerText === "string" ? el.innerText : "";
  return text.replace(/\s+/g, " ").trim().slice(0, TEXT_CAP);
}
function name(el) {
  const label = el.getAttribute("aria-label");
  if (label) return label.trim().slice(0, TEXT_CAP);
  if (el.labels && el.labels.length) return visible(el.labels[0]);
  if (["input", "textarea", "select"].includes(el.localName)) return el.getAttribute("title") || el.getAttribute("placeholder") || null;
  return visible(el) || el.getAttribute("title") || null;
}
function describe(el) {
  const r = el.getBoundingClientRect();
  return {
    tag: el.localName, path: path(el), selector: selector(el),
    text: visible(el), role: role(el), name: name(el),
    rect: [r.x, r.y, r.width, r.height],
  };
}
"""
ELEMENT_AT_JS = f"""([x, y]) => {{ {_DESCRIBE_JS}
  let el = document.elementFromPoint(x, y);
  if (!el) return null;
  const control = el.closest(INTERACTIVE);
  if (control && control !== document.body) el = control;
  return describe(el);
}}"""
# Brings the element into view unless its visible centre already hits it (not covered by a fixed bar, say),
# then gives that centre, in whole CSS pixels, and describes the element.
REVEAL_JS = f"""el => {{ {_DESCRIBE_JS}
  function centre() {{
    const r = el.getBoundingClientRect();
    const left = Math.max(r.left, 0), right = Math.min(r.right, innerWidth);
    const top = Math.max(r.top, 0), bottom = Math.min(r.bottom, innerHeight);
    if (right <= left || bottom <= top) return null;
    return [Math.min(Math.floor((left + right) / 2), innerWidth - 1), Math.min(Math.floor((top + bottom) / 2), innerHeight - 1)];
  }}
  const hits = p => {{ const hit = p && document.elementFromPoint(p[0], p[1]); return !!hit && (hit === el || el.contains(hit)); }};
  let point = centre();
  if (!hits(point)) {{
    el.scrollIntoView({{block: "center", inline: "center", behavior: "instant"}});
    point = centre();
  }}
  return {{point, element: describe(el)}};
}}"""


def locator_for(page: Page, target: Target) -> Locator:
    """The Playwright locator a DOM target names."""
    if target.selector is not None:
        return page.locator(target.selector)
    if target.text is not None:
        return page.get_by_text(target.text, exact=target.exact)
    # Playwright types the role as its ARIA literal; any string goes through (an unknown one matches nothing)
    return page.get_by_role(cast(Any, target.role), name=target.name, exact=target.exact or None)


def locate(page: Page, target: Target) -> LocatedElement:
    """The first visible element the target names, scrolled into view; its visible centre in CSS pixels."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    if not target.dom:
        raise TargetError(f"{target.label()} is not a DOM target")
    visible = locator_for(page, target).filter(visible=True).first
    try:
        visible.wait_for(state="visible", timeout=target.timeout * 1000)
        found = visible.evaluate(REVEAL_JS, timeout=target.timeout * 1000)
    except PlaywrightTimeout:
        raise TargetError(f"{target.label()} matched no visible element within {target.timeout:g}s") from None
    except PlaywrightError as exc:
        first = str(exc).strip().splitlines()[0].removeprefix("Error: ")
        raise TargetError(f"{target.label()}: {first}") from None
    if found["point"] is None:
        size = page.viewport_size
        viewport = f"the {size['width']}x{size['height']} viewport" if size else "the viewport"
        raise TargetError(f"{target.label()} is outside {viewport} even after scrolling")
    return LocatedElement(point=found["point"], element=ElementInfo.model_validate(found["element"]))


def element_at(page: Page, point: tuple[float, float]) -> ElementInfo | None:
    """The element under a viewport point, or None (nothing there, or the page is between documents)."""
    try:
        data = page.evaluate(ELEMENT_AT_JS, [point[0], point[1]])
    except Exception:
        return None  # a navigation replaced the document: nothing to say about the point
    return ElementInfo.model_validate(data) if data else None


def elements_under(page: Any, action: Action) -> dict[str, Any]:
    """The element under each point of an action, by field, as recorded in its result (scripts from runs)."""
    found = {name: element_at(page, p) for name, p in action.points().items()}
    return {name: e.model_dump(mode="json") for name, e in found.items() if e is not None}
