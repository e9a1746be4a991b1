/* Replays of failed notifications (bulk recovery, operator): start one over a time range, follow its counts, cancel it.
   The card shows only where the API has replays. */
"use strict";

V.replaysCard = async function (section) {
  var card = V.h("div", { class: "card", id: "replays", hidden: true }, V.h("h2", { text: "Replays of failed notifications" }));
  var listSlot = V.h("div", { id: "replay-list" });
  section.appendChild(card);
  try { await V.get("/system/notify/replays", { limit: 1 }); } catch (error) { return; }
  card.hidden = false;
  if (V.can("operator")) {
    var hourAgo = new Date(Date.now() - 3600 * 1000).toISOString().replace(/\.\d+Z$/, "Z");
    card.appendChild(V.form([
      { name: "channel_id", label: "Channel id (optional)", id: "replay-channel", type: "number" },
      { name: "since", label: "Failed since", id: "replay-since", required: true, value: hourAgo },
      { name: "until", label: "Until", id: "replay-until", placeholder: "now" },
      { name: "to_channel_id", label: "Copy to channel (optional)", id: "replay-to", type: "number" },
      { name: "dry_run", label: "Dry run", id: "replay-dry-run", options: ["no", "yes"] },
    ], "Replay", async function (values) {
      var body = { status: ["failed"], since: values.since, dry_run: values.dry_run === "yes" };
      body.until = values.until || new Date(Date.now() + 1000).toISOString();
      if (values.channel_id) body.channel_id = Number(values.channel_id);
      if (values.to_channel_id) body.to_channel_id = Number(values.to_channel_id);
      var replay = await V.post("/system/notify/replays", body);
      V.toast("Replay " + replay.id + " started" + (replay.dry_run ? " (dry run)." : "."));
      await load();
    }, "replay-form"));
  }
  card.appendChild(listSlot);

  var active = false;
  async function load() {
    var page = await V.get("/system/notify/replays", { limit: 10 });
    active = page.items.some(function (r) { return r.status === "pending" || r.status === "running"; });
    V.clear(listSlot).appendChild(V.table([
      ["id", function (r) { return r.id; }],
      ["status", function (r) { return V.statusCell(r.status); }],
      ["channel", function (r) { return r.channel_id === null ? "any" : r.channel_id; }],
      ["window", function (r) { return V.time(r.since) + " - " + V.time(r.until); }],
      ["matched / replayed / skipped", function (r) {
        return V.h("td", { class: "replay-counts", "data-replay": r.id, text: r.matched + " / " + r.replayed + " / " + r.skipped + (r.dry_run ? " (dry run)" : "") });
      }],
      ["created", function (r) { return V.time(r.created_at); }],
      ["", function (r) {
        if (r.error) return r.error;
        if (!V.can("operator") || (r.status !== "pending" && r.status !== "running")) return "";
        return V.h("button", { type: "button", class: "danger", text: "Cancel", on: { click: V.act(async function () {
          await V.post("/system/notify/replays/" + r.id + "/cancel");
          V.toast("Replay " + r.id + " cancelled.");
          await load();
        }) } });
      }],
    ], page.items));
  }
  await load();
  V.every(1000, function () { if (active) load().catch(function () {}); });
  V.every(10000, function () { if (!active) load().catch(function () {}); });
};
