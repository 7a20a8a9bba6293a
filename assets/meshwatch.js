/* meshwatch's clientside callbacks (Dash ClientsideFunction("meshwatch", name)). */
window.dash_clientside = window.dash_clientside || {};

/* The path prefix the app is served under (--base-path), from Dash's own config. */
function mwPathPrefix() {
    var config = document.getElementById("_dash-config");
    var prefix = config ? JSON.parse(config.textContent).requests_pathname_prefix : "/";
    return (prefix || "/").replace(/\/$/, "");
}

/* The page's address with a new query, in place (no reload, no history entry). */
function mwReplaceQuery(query) {
    var text = query.toString();
    var url = window.location.pathname + (text ? "?" + text : "");
    if (window.location.pathname + window.location.search !== url) {
        window.history.replaceState(window.history.state, "", url);
    }
}

/* The topology's labels: sized to the screen, not to the zoom (a wall screen
   read from across the room at 1920x1080, still legible at 1366x768), and
   never clipped by a node or on top of another label. Each edge label is
   tried whole, then short (its one most important fact), then left to the
   side panel; the edges that matter most (open circuits, shedding, failing,
   busiest) are placed first. */
var MW_PRIORITY = {open: 4, tripping: 3};
var MW_HEALTH_PRIORITY = {failing: 2, degraded: 1};

function mwLabelPixels() {
    var kiosk = document.querySelector(".mw-kiosk") !== null;
    var base = window.innerHeight * (kiosk ? 0.026 : 0.02);
    return {node: Math.max(15, base), edge: Math.max(13, base * 0.85)};
}

function mwBox(ele, labels, sourceLabel) {
    return ele.boundingBox({includeNodes: !labels, includeEdges: false, includeLabels: labels,
                            includeMainLabels: labels && !sourceLabel, includeSourceLabels: !!sourceLabel,
                            includeTargetLabels: false, includeOverlays: false, includeUnderlays: false});
}

function mwOverlaps(a, b) {
    return a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2;
}

function mwEdgeRank(edge) {
    var d = edge.data();
    return (MW_PRIORITY[d.circuit] || MW_HEALTH_PRIORITY[d.health] || 0) * 1e9 + (d.rps || d.bytes_per_s || 0);
}

/* Where an edge label may go, in order: at the middle of the edge (whole,
   then short), then slid towards either end (short). */
function mwPlacements(edge) {
    var full = edge.data("label"), short = edge.data("short_label") || full;
    var length = Math.max(1, edge.sourceEndpoint() && edge.targetEndpoint() ?
        Math.hypot(edge.targetEndpoint().x - edge.sourceEndpoint().x,
                   edge.targetEndpoint().y - edge.sourceEndpoint().y) : 1);
    return [{text: full}, {text: short}, {text: short, along: 0.3 * length}, {text: short, along: 0.7 * length}];
}

function mwPlaceEdgeLabel(edge, fits, taken) {
    var tries = mwPlacements(edge);
    for (var i = 0; i < tries.length; i++) {
        var t = tries[i];
        if (!t.text) { continue; }
        if (t.along === undefined) {
            edge.style({"label": t.text, "source-label": "", "text-opacity": 1});
        } else {
            // A zero-width space, not "": an empty bypass would bring the stylesheet's label back.
            edge.style({"label": "\u200b", "source-label": t.text, "source-text-offset": t.along,
                        "source-text-rotation": "autorotate", "text-opacity": 1});
        }
        var box = mwBox(edge, true, t.along !== undefined);
        if (box.w > 0 && fits(box, null)) { taken.push([box, edge.id()]); return true; }
    }
    edge.style({"label": "\u200b", "source-label": "", "text-opacity": 0, "text-background-opacity": 0});
    return false;
}

function mwDeclutter(cy) {
    var pixels = mwLabelPixels(), zoom = cy.zoom();
    var taken = [];  // [box, owner id]
    var view = cy.extent();
    var fits = function (box, owner) {
        // On screen: a label cut by the canvas's edge says less than none.
        if (box.x1 < view.x1 || box.x2 > view.x2 || box.y1 < view.y1 || box.y2 > view.y2) { return false; }
        for (var i = 0; i < taken.length; i++) {
            if (taken[i][1] !== owner && mwOverlaps(box, taken[i][0])) { return false; }
        }
        return true;
    };
    var nodes = cy.nodes(":childless"), boxes = cy.nodes(":parent");
    cy.batch(function () {
        boxes.style({"font-size": pixels.edge / zoom, "text-outline-width": 2 / zoom, "text-opacity": 1});
        nodes.style({"font-size": pixels.node / zoom, "text-margin-y": 6 / zoom, "text-margin-x": 0,
                          "text-outline-width": 3 / zoom, "text-opacity": 1});
        cy.edges().style({"font-size": pixels.edge / zoom, "text-margin-y": -10 / zoom,
                          "source-text-margin-y": -10 / zoom, "text-outline-width": 2 / zoom,
                          "text-background-padding": 2 / zoom, "text-opacity": 1,
                          "text-background-opacity": null});
    });
    nodes.forEach(function (node) { taken.push([mwBox(node, false), node.id()]); });
    var edges = cy.edges().filter(function (edge) {
        return edge.visible() && edge.data("label") && edge.data("health") !== "idle";
    }).sort(function (a, b) { return mwEdgeRank(b) - mwEdgeRank(a); });
    // Open circuits are the story: their labels go down before the names,
    // clear of them where the edge allows, over them where it does not.
    var names = nodes.map(function (node) { return [mwBox(node, true), node.id()]; });
    var clearOfNames = function (box, owner) {
        return fits(box, owner) && names.every(function (name) { return !mwOverlaps(box, name[0]); });
    };
    var open = edges.filter(function (edge) { return edge.data("circuit") === "open"; });
    open.forEach(function (edge) {
        mwPlaceEdgeLabel(edge, clearOfNames, taken) || mwPlaceEdgeLabel(edge, fits, taken);
    });
    // Node names: whole, then cut (the version kept), below the node, else
    // beside it; one that would sit on another node or name waits in the panel.
    nodes.forEach(function (node) {
        var spots = [{"text-valign": "bottom", "text-halign": "center"},
                     {"text-valign": "center", "text-halign": "right", "text-margin-x": 8 / zoom, "text-margin-y": 0},
                     {"text-valign": "center", "text-halign": "left", "text-margin-x": -8 / zoom, "text-margin-y": 0}];
        var names = node.data("label") ? [node.data("label")].concat(node.data("short_labels") || []) : [];
        for (var n = 0; n < names.length; n++) {
            for (var i = 0; i < spots.length; i++) {
                node.style(Object.assign({"label": names[n], "text-max-width": 4000}, spots[i]));
                var box = mwBox(node, true);
                if (fits(box, node.id())) { taken.push([box, node.id()]); return; }
            }
        }
        node.style({"label": node.data("label") || "", "text-valign": "bottom", "text-halign": "center",
                    "text-opacity": 0});
    });
    edges.difference(open).forEach(function (edge) { mwPlaceEdgeLabel(edge, fits, taken); });
    // A namespace's name tops its box where nothing else is; it is in the panel too.
    boxes.forEach(function (box) {
        var label = mwBox(box, true);
        if (fits(label, box.id())) { taken.push([label, box.id()]); } else { box.style({"text-opacity": 0}); }
    });
}

window.dash_clientside.meshwatch = {
    /* The legend starts open where the screen is tall enough for it and the graph. */
    openLegend: function (id) {
        return window.innerHeight >= 900;
    },

    /* The time bar: opened and closed by its button, and always open while
       the view is not live (so Live is a click away). */
    showTimeBar: function (clicks, moment, hidden) {
        var notLive = !!moment && moment.mode !== "live";
        var trigger = window.dash_clientside.callback_context.triggered.map(function (t) { return t.prop_id; });
        var nextHidden = notLive ? false : (trigger.indexOf("topology-time-open.n_clicks") >= 0 ? !hidden : hidden);
        if (nextHidden !== hidden && window.cy && !window.cy.destroyed()) {
            // The bar takes (or gives back) the graph's height: fit the graph to what is left.
            window.requestAnimationFrame(function () {
                if (!window.cy.destroyed()) { window.cy.resize(); window.cy.fit(undefined, 60); }
            });
        }
        return nextHidden;
    },

    /* Browsers refuse a file over an upload's max_size without telling Dash,
       so the page checks the size itself and says why nothing happened. */
    checkUploadSize: function (maxSize, uploadId, bannerId, limitText) {
        var checks = window.mwUploadSizeChecks;
        if (!checks) {
            checks = window.mwUploadSizeChecks = {};
            // One listener on the document, so it works however late the upload is drawn.
            var check = function (event) {
                var files = event.type === "drop" ? event.dataTransfer && event.dataTransfer.files : event.target.files;
                for (var id in checks) {
                    var box = document.getElementById(id);
                    if (!box || !box.contains(event.target)) { continue; }
                    for (var i = 0; i < (files ? files.length : 0); i++) {
                        if (checks[id].maxSize >= 0 && files[i].size > checks[id].maxSize) {
                            window.dash_clientside.set_props(checks[id].bannerId, {
                                children: files[i].name + " is larger than " + checks[id].limitText +
                                    ", the limit for trace files; use meshwatch trace --file, or export a smaller trace",
                                hidden: false});
                        }
                    }
                }
            };
            document.addEventListener("change", check, true);
            document.addEventListener("drop", check, true);
        }
        checks[uploadId] = {maxSize: maxSize, bannerId: bannerId, limitText: limitText};
        return "";
    },

    /* A click on a waterfall row (or a flame graph box) selects its span; a
       click on a row's fold toggle folds or unfolds it. The rows say which
       span they draw in `data-span`, the toggles in `data-fold`. */
    selectOnRowClick: function (traceId) {
        if (!window.mwWaterfallClicks) {
            window.mwWaterfallClicks = true;
            document.addEventListener("click", function (event) {
                var view = event.target.closest && event.target.closest("#trace-waterfall, #trace-flame");
                if (!view) { return; }
                var fold = event.target.closest("[data-fold]");
                if (fold) {
                    window.dash_clientside.set_props("trace-fold", {data: {span: fold.dataset.fold, at: Date.now()}});
                }
                var row = event.target.closest("[data-span]");
                if (row) {
                    window.dash_clientside.set_props("trace-selected", {data: row.dataset.span});
                }
            }, true);
        }
        return "";
    },

    /* A poll's patch of the topology (layouts/topology/patch.py): the whole
       graph, or what was added, removed and changed. Drawn here rather than
       through the component's elements, so a steady mesh costs only its
       changing figures; the sequence applied goes back with the next poll. */
    drawPatch: function (patch) {
        var cy = window.cy;
        if (!patch) { return window.dash_clientside.no_update; }
        // No graph, or one that never had the whole drawing: the next poll, seeing none applied, sends it all.
        if (!cy || cy.destroyed() || (!patch.full && !cy.mwOrder)) { return ""; }
        var ids = function (elements) { return elements.map(function (e) { return e.data.id; }); };
        cy.batch(function () {
            if (patch.full) {
                cy.elements().remove();
                cy.add(patch.full);
                cy.mwOrder = ids(patch.full);
                return;
            }
            // The order the server keeps too: what stayed, then what was added; an update names its index.
            var gone = {};
            patch.remove.forEach(function (id) { gone[id] = true; cy.getElementById(id).remove(); });
            cy.add(patch.add);
            cy.mwOrder = cy.mwOrder.filter(function (id) { return !gone[id]; }).concat(ids(patch.add));
            patch.update.forEach(function (change) {
                var ele = cy.getElementById(cy.mwOrder[change[0]]);
                if (!ele.length) { return; }
                var data = {};
                for (var i = 0; i < change[1].length; i += 2) { data[patch.fields[change[1][i]]] = change[1][i + 1]; }
                if ("parent" in data) { ele.move({parent: data.parent}); delete data.parent; }
                ele.data(data);
                if (change[2]) { ele.position(change[2]); }
            });
        });
        if (patch.fit) {
            // Fitted once the page is laid out: the same answer may grow the lines
            // above the graph (its status line). Fitting now as well cost a second
            // pass over every label's size before the new elements were painted.
            window.requestAnimationFrame(function () {
                if (!cy.destroyed()) { cy.resize(); cy.fit(undefined, 60); }
            });
        }
        return String(patch.sequence);
    },

    /* Re-place the topology's labels whenever the graph or the view changes. */
    declutterGraph: function (elements) {
        var cy = window.cy;
        if (!cy) { return ""; }
        if (!cy.mwDeclutter) {
            var pending = null;
            cy.mwDeclutter = function () {
                if (pending) { window.clearTimeout(pending); }
                pending = window.setTimeout(function () {
                    pending = null;
                    // The page may have been left meanwhile: its graph is gone.
                    if (cy.destroyed() || !document.getElementById("topology-graph")) {
                        window.removeEventListener("resize", cy.mwDeclutter);
                        return;
                    }
                    mwDeclutter(cy);
                    // Stamped beside the graph, never on it: Cytoscape resizes on any
                    // attribute of its container, and a resize declutters again (a loop).
                    var stamp = document.getElementById("topology-decluttered");
                    if (stamp) { stamp.setAttribute("data-decluttered", String(Date.now())); }
                }, 60);
            };
            cy.on("add remove data zoom pan layoutstop", cy.mwDeclutter);
            // Cytoscape also says "resize" when anything touches its container's
            // attributes (Dash re-rendering it on a tap): only a new size moves labels.
            cy.on("resize", function () {
                var size = cy.width() + "x" + cy.height();
                if (size !== cy.mwSize) { cy.mwSize = size; cy.mwDeclutter(); }
            });
            cy.mwSize = cy.width() + "x" + cy.height();
            window.addEventListener("resize", cy.mwDeclutter);
        }
        cy.mwDeclutter();
        return "";
    },

    /* The view as an image, drawn by Cytoscape itself: what is on screen, on the page's own ground. */
    exportGraph: function (png, svg) {
        var trigger = window.dash_clientside.callback_context.triggered.map(function (t) { return t.prop_id; });
        var type = trigger.indexOf("topology-export-svg.n_clicks") >= 0 ? "svg" : "png";
        var stamp = new Date().toISOString().replace(/[:.]/g, "-");
        return {type: type, action: "download", filename: "meshwatch-topology-" + stamp,
                options: {full: false, bg: "#14171c", scale: type === "png" ? 2 : 1}};
    },

    /* Fit the topology to the screen: the one thing that moves the view. */
    fitGraph: function (clicks) {
        if (window.cy) { window.cy.fit(undefined, 60); }
        return "";
    },

    /* The address is the view: namespaces, window, refresh and idle edges
       go into the query, so a copied link opens the same view. */
    topologyAddress: function (namespaces, rateWindow, refresh, idle, moment, graphType, boxes, find, hide, traceId,
                               clusters) {
        var query = new URLSearchParams(), current = new URLSearchParams(window.location.search);
        // A rotating wall keeps its list of namespaces, not the one on screen now.
        var rotating = current.get("rotate");
        (rotating ? current.getAll("namespace") : (namespaces || [])).forEach(function (ns) {
            query.append("namespace", ns);
        });
        if (rotating) { query.set("rotate", rotating); }
        (clusters || []).forEach(function (cluster) { query.append("cluster", cluster); });
        if (rateWindow) { query.set("window", rateWindow); }
        if (refresh !== undefined && refresh !== null) { query.set("refresh", String(refresh)); }
        if (idle && idle.indexOf("idle") >= 0) { query.set("idle", "1"); }
        if (graphType && graphType !== "versioned") { query.set("graph", graphType); }
        if (boxes && boxes.indexOf("boxes") < 0) { query.set("boxes", "0"); }
        if (find) { query.set("find", find); }
        if (hide) { query.set("hide", hide); }
        if (traceId) { query.set("trace", traceId); }
        if (moment && moment.mode === "fixed" && moment.at) { query.set("at", String(Math.round(moment.at))); }
        if (current.get("kiosk")) { query.set("kiosk", "1"); }
        mwReplaceQuery(query);
        return "";
    },

    /* The trace search's address follows each search made (its fields in the order of SEARCH_FIELDS). */
    searchAddress: function (found, service, operation, tags, min, max, lookback, limit, sort) {
        if (!found) { return ""; }
        var names = ["service", "operation", "tags", "minDuration", "maxDuration", "lookback", "limit", "sort"];
        var values = [service, operation, tags, min, max, lookback, limit, sort];
        var query = new URLSearchParams();
        names.forEach(function (name, i) {
            if (values[i] !== null && values[i] !== undefined && String(values[i]).trim() !== "") {
                query.set(name, String(values[i]).trim());
            }
        });
        mwReplaceQuery(query);
        return "";
    },

    /* The canary page's address follows its window (and keeps its moment). */
    canaryAddress: function (rateWindow, service, at) {
        var query = new URLSearchParams();
        if (service) { query.set("service", service); }
        if (rateWindow) { query.set("window", rateWindow); }
        if (at) { query.set("at", String(Math.round(at))); }
        mwReplaceQuery(query);
        return "";
    },

    /* The deep link follows the selected span and view without reloading the page. */
    followSelectedSpan: function (span, view, traceId) {
        if (!traceId) { return ""; }
        var query = [];
        if (span) { query.push("span=" + encodeURIComponent(span)); }
        if (view && view !== "waterfall") { query.push("view=" + encodeURIComponent(view)); }
        var url = mwPathPrefix() + "/trace/" + encodeURIComponent(traceId) +
            (query.length ? "?" + query.join("&") : "");
        if (window.location.pathname + window.location.search !== url) {
            window.history.replaceState(null, "", url);
        }
        return "";
    }
};
