#include "node/server/console.h"

namespace sluice::server {

// Element ids the page fills (tests look for them): #members, #topics, #status. Each topic is a
// <section data-topic="NAME"> whose partition rows carry data-partition and data-leader.
std::string_view console_page() {
  static constexpr std::string_view kPage = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sluice console</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
h2 { font-size: 1.1rem; margin: 1.2rem 0 .4rem; }
table { border-collapse: collapse; margin-bottom: .8rem; }
th, td { border: 1px solid #ccc; padding: .2rem .6rem; text-align: left; }
th { background: #f3f3f3; }
.state-alive { color: #176e17; } .state-suspect { color: #a66c00; } .state-dead, .state-left { color: #a11; }
#status { color: #666; font-size: .9rem; }
input { font: inherit; }
</style>
</head>
<body>
<h1>sluice</h1>
<div><label>Token <input id="token" type="password" autocomplete="off" size="30"></label>
<span id="status">loading…</span></div>
<h2>Members</h2>
<table><thead><tr><th>node</th><th>address</th><th>state</th><th>api</th></tr></thead><tbody id="members"></tbody></table>
<h2>Topics</h2>
<div id="topics"></div>
<script>
"use strict";
const tokenInput = document.getElementById("token");
function text(tag, value, cls) {
  const cell = document.createElement(tag);
  cell.textContent = String(value);
  if (cls) cell.className = cls;
  return cell;
}
async function api(path) {
  const headers = tokenInput.value ? { "Authorization": "Bearer " + tokenInput.value } : {};
  const response = await fetch(path, { headers });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? body.error.code + ": " + body.error.message : response.status);
  return body;
}
function showMembers(cluster) {
  const rows = document.getElementById("members");
  rows.replaceChildren();
  for (const member of cluster.members) {
    const row = document.createElement("tr");
    row.dataset.node = member.id;
    row.append(text("td", member.id + (member.self ? " (this node)" : "") + (member.id === cluster.controller_leader ? " ★ controller" : "")),
               text("td", member.address), text("td", member.state, "state-" + member.state), text("td", member.api || ""));
    rows.append(row);
  }
}
function showTopic(topic) {
  const section = document.createElement("section");
  section.dataset.topic = topic.name;
  section.append(text("h3", topic.name + " — " + topic.partitions.length + " partitions × " + topic.replication));
  const table = document.createElement("table");
  const head = document.createElement("tr");
  for (const name of ["partition", "leader", "replicas", "end offset", "moving"]) head.append(text("th", name));
  table.append(head);
  for (const p of topic.partitions) {
    const row = document.createElement("tr");
    row.dataset.partition = p.partition;
    row.dataset.leader = p.leader;
    row.append(text("td", p.partition), text("td", p.leader), text("td", p.replicas.join(", ")),
               text("td", p.end_offset === undefined ? "" : p.end_offset),
               text("td", p.moving ? p.moving.removing + " → " + p.moving.adding : ""));
    table.append(row);
  }
  section.append(table);
  return section;
}
async function refresh() {
  const status = document.getElementById("status");
  try {
    showMembers(await api("/v1/cluster"));
    const list = await api("/v1/topics");
    const sections = [];
    for (const topic of list.topics) sections.push(showTopic(await api("/v1/topics/" + encodeURIComponent(topic.name))));
    document.getElementById("topics").replaceChildren(...sections);
    status.textContent = "updated " + new Date().toLocaleTimeString();
  } catch (error) {
    status.textContent = "error: " + error.message;
  }
}
refresh();
setInterval(refresh, 3000);
tokenInput.addEventListener("change", refresh);
</script>
</body>
</html>
)HTML";
  return kPage;
}

}  // namespace sluice::server
