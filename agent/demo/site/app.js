// Small helpers shared by the demo pages. All state lives on the server (/api/state).
async function api(path, body) {
  const res = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  if (!res.ok) throw new Error(path + ": " + res.status);
  return res.json();
}
function nav() {
  document.body.insertAdjacentHTML("afterbegin",
    '<nav><a id="nav-list" href="/list">List</a><a id="nav-settings" href="/settings">Settings</a>' +
    '<a id="nav-terms" href="/terms">Terms</a><a id="nav-board" href="/board">Board</a>' +
    '<a id="nav-summary" href="/summary">Summary</a></nav>');
}
// One of the site's goals (names as in server.goals), read synchronously: a task's success check.
function demoGoal(name) {
  const req = new XMLHttpRequest(); req.open("GET", "/api/state", false); req.send();
  return req.status === 200 && JSON.parse(req.responseText).goals[name] === true;
}
