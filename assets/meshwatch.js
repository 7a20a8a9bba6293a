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

/* An edge label's lift above its line, outline and background padding, in screen pixels. */
var MW_EDGE_LABEL_LIFT = 10, MW_EDGE_LABEL_OUTLINE = 2, MW_EDGE_LABEL_PADDING = 2;

/* An edge's line as its label placement needs it, asked of Cytoscape once. */
function mwEdgeShape(edge) {
    var from = edge.sourceEndpoint(), to = edge.targetEndpoint();
    return {loop: edge.isLoop(), bends: edge.controlPoints() || edge.segmentPoints() || [], from: from, to: to,
            length: from && to ? Math.hypot(to.x - from.x, to.y - from.y) : 0, middle: edge.midpoint(),
            // An arrow is at most its width long: Cytoscape's is 29 units or more, times arrow-scale.
            arrow: Math.max(29, Math.sqrt(edge.numericStyle("width")) * 13.37) * edge.numericStyle("arrow-scale")};
}

/* Where an edge label may go, in order: at the middle of the edge (whole,
   then short), then slid towards either end (short). */
function mwPlacements(edge, shape) {
    var full = edge.data("label"), short = edge.data("short_label") || full;
    // A loop's label stays at its top: slid along it, it would sit on its node.
    if (shape.loop) { return [{text: full}, {text: short}]; }
    var length = Math.max(1, shape.length);
    return [{text: full}, {text: short}, {text: short, along: 0.3 * length}, {text: short, along: 0.7 * length}];
}

/* Cytoscape's reading of an angle, as its autorotate turns a label. */
function mwLineAngle(dx, dy) {
    var angle = Math.atan(dy / dx);
    return dx === 0 && angle < 0 ? -angle : angle;
}

/* A text's width in a CSS font, as Cytoscape measures a label: on a canvas, rounded up. */
var mwMeasure = null, mwWidths = {}, mwWidthCount = 0;
function mwTextWidth(text, font) {
    var key = font + "\n" + text;
    if (key in mwWidths) { return mwWidths[key]; }
    mwMeasure = mwMeasure || document.createElement("canvas").getContext("2d");
    if (mwMeasure.font !== font) { mwMeasure.font = font; }
    if (++mwWidthCount > 20000) { mwWidths = {}, mwWidthCount = 0; }
    return (mwWidths[key] = Math.ceil(mwMeasure.measureText(text).width));
}

/* A label's font as Cytoscape writes it for its canvas. */
function mwFont(ele, weight, size) {
    return [ele.style("font-style"), weight, size + "px", ele.style("font-family")].join(" ");
}

/* The fonts of the graph's edge labels and node names as the declutter sets
   them (sized to the screen, not the zoom), with what Cytoscape grows a
   label's box by (its outline, its padding and 2 units more) and the style
   a shown label takes: only the labels shown are styled, as styling every
   element of a namespace opened at 5,000 workloads cost a tenth of a second. */
function mwLabelFonts(cy, pixels) {
    var zoom = cy.zoom(), edges = cy.edges(), nodes = cy.nodes(":childless");
    var edgeSize = pixels.edge / zoom, nodeSize = pixels.node / zoom, lift = -MW_EDGE_LABEL_LIFT / zoom;
    return {
        edge: edges.length && {size: edgeSize, lift: lift,
                               grow: (MW_EDGE_LABEL_OUTLINE + MW_EDGE_LABEL_PADDING) / zoom + 2,
                               css: mwFont(edges[0], "normal", edgeSize),
                               style: {"font-size": edgeSize, "text-margin-y": lift, "source-text-margin-y": lift,
                                       "text-outline-width": MW_EDGE_LABEL_OUTLINE / zoom,
                                       "text-background-padding": MW_EDGE_LABEL_PADDING / zoom}},
        node: nodes.length && {size: nodeSize, zoom: zoom, grow: MW_NODE_LABEL_OUTLINE / zoom + 2,
                               css: mwFont(nodes[0], MW_NODE_LABEL_WEIGHT, nodeSize),
                               style: {"font-size": nodeSize, "font-weight": MW_NODE_LABEL_WEIGHT,
                                       "text-outline-width": MW_NODE_LABEL_OUTLINE / zoom,
                                       "text-max-width": MW_NODE_LABEL_MAX_WIDTH}}
    };
}

/* An edge's label shown as the try `t` (mwPlacements) puts it, in `font`. */
function mwShowEdgeLabel(edge, t, font) {
    var at = t.along === undefined ? {"label": t.text, "source-label": ""}
        : {"label": "", "source-label": t.text, "source-text-offset": t.along, "source-text-rotation": "autorotate"};
    edge.addClass("mw-label").style(Object.assign({}, font.style, at));
}

/* A node's name shown at a spot (MW_NODE_SPOTS), in `font`. */
function mwShowNodeLabel(node, name, spot, font) {
    node.addClass("mw-label").style(Object.assign({}, font.style, {
        "label": name, "text-valign": spot.valign, "text-halign": spot.halign,
        "text-margin-x": spot.x / font.zoom, "text-margin-y": spot.y / font.zoom}));
}

/* Where a node's name may go, in order (margins in screen pixels): below it, then beside it. */
var MW_NODE_SPOTS = [{valign: "bottom", halign: "center", x: 0, y: 6},
                     {valign: "center", halign: "right", x: 8, y: 0},
                     {valign: "center", halign: "left", x: -8, y: 0}];
// A node name's outline in screen pixels, the widest it may be (wider, Cytoscape cuts it with "…"), its weight.
var MW_NODE_LABEL_OUTLINE = 3, MW_NODE_LABEL_MAX_WIDTH = 4000, MW_NODE_LABEL_WEIGHT = "bold";

/* The box Cytoscape's boundingBox gives a node's name at a spot, figured as
   it figures it (beside or below the node's padded shape, the text measured,
   shifted by the margins, grown by the outline and 2 units); null for a name
   it would cut. */
function mwNodeLabelBox(node, text, spot, font) {
    var width = mwTextWidth(text, font.css);
    if (width >= MW_NODE_LABEL_MAX_WIDTH) { return null; }
    var at = node.position(), pad = node.padding(), halfW = node.width() / 2 + pad, halfH = node.height() / 2 + pad;
    var x = spot.halign === "left" ? at.x - halfW - width : spot.halign === "right" ? at.x + halfW : at.x - width / 2;
    var y = spot.valign === "bottom" ? at.y + halfH : at.y - font.size / 2;
    x += spot.x / font.zoom, y += spot.y / font.zoom;
    return {x1: x - font.grow, x2: x + width + font.grow, y1: y - font.grow, y2: y + font.size + font.grow,
            w: width + 2 * font.grow, h: font.size + 2 * font.grow};
}

/* Where Cytoscape puts a label `along` a curve of one control point from
   its source, and its turn there: on the curve, at that length measured on
   Cytoscape's chords of it (its bezierProjPcts). */
var MW_CURVE_CHORDS = [0, 0.05, 0.225, 0.4, 0.5, 0.6, 0.775, 0.95, 1];

function mwCurvePoint(from, bend, to, t) {
    var u = 1 - t;
    return {x: u * u * from.x + 2 * u * t * bend.x + t * t * to.x,
            y: u * u * from.y + 2 * u * t * bend.y + t * t * to.y};
}

function mwAlongCurve(from, bend, to, along) {
    var points = MW_CURVE_CHORDS.map(function (t) { return mwCurvePoint(from, bend, to, t); });
    var start = 0, length = 0, i = 0;
    for (; i < points.length - 1; i++) {
        length = Math.hypot(points[i + 1].x - points[i].x, points[i + 1].y - points[i].y);
        if (start + length >= along || i === points.length - 2) { break; }
        start += length;
    }
    var t = MW_CURVE_CHORDS[i] + (MW_CURVE_CHORDS[i + 1] - MW_CURVE_CHORDS[i]) * (along - start) / length;
    t = Math.max(0, Math.min(1, t));
    var before = mwCurvePoint(from, bend, to, Math.max(0, t - 0.001));
    var after = mwCurvePoint(from, bend, to, Math.min(1, t + 0.001));
    return {at: mwCurvePoint(from, bend, to, t), dx: after.x - before.x, dy: after.y - before.y};
}

/* The box Cytoscape's boundingBox gives an edge's label (at its middle, or
   `along` it from the source), figured as Cytoscape figures it, without
   restyling the edge to ask: the text measured on a canvas in the label's
   font, shifted by its margin, grown by its outline, padding and Cytoscape's
   2 units for the browser's measuring, turned with the edge there (a curve
   turns at its middle as the line between its ends). A label at the middle
   is exactly there; one `along` the edge is measured from where its line
   leaves the source's arrow, which Cytoscape does not say: its box is then
   the one a label anywhere that close holds (shrunk by `slack`), to rule a
   try out, not in. Null for a line of several bends. */
function mwLabelBox(shape, text, along, font) {
    if (!shape.loop && shape.bends.length > 1) { return null; }
    var from = shape.from, to = shape.to, dx = to.x - from.x, dy = to.y - from.y;
    if (!(shape.length > 0)) { return null; }
    var at, slack = 0;
    if (shape.loop) {
        // The stylesheet's loops stand straight up from their node: level at the top.
        at = shape.middle, dx = 1, dy = 0;
    } else if (along === undefined) {
        at = shape.middle;
    } else if (shape.bends.length) {
        // On a curve, twice the arrow for the label's turn as it slides.
        var spot = mwAlongCurve(from, shape.bends[0], to, along);
        at = spot.at, dx = spot.dx, dy = spot.dy, slack = 2 * shape.arrow;
    } else {
        var share = Math.min(1, along / shape.length);
        at = {x: from.x + dx * share, y: from.y + dy * share}, slack = shape.arrow;
    }
    var halfWidth = mwTextWidth(text, font.css) / 2 + font.grow, halfHeight = font.size / 2 + font.grow;
    var angle = mwLineAngle(dx, dy), cos = Math.abs(Math.cos(angle)), sin = Math.abs(Math.sin(angle));
    var x = at.x, y = at.y + font.lift;
    var w = halfWidth * cos + halfHeight * sin - slack, h = halfWidth * sin + halfHeight * cos - slack;
    if (w <= 0 || h <= 0) { return null; }
    return {x1: x - w, x2: x + w, y1: y - h, y2: y + h, w: 2 * w, h: 2 * h, exact: !slack};
}

/* An edge's label at the first placement that fits, else hidden. An
   edge's placements are figured (mwLabelBox) and those left restyled and
   measured by Cytoscape, which re-figures the edge for each try: at 5,000
   workloads nearly every label of a namespace's hundreds of edges fails all
   its tries. Returns whether the label is shown; the caller hides the
   others, all in one batch. */
function mwPlaceEdgeLabel(edge, fits, taken, font) {
    var shape = mwEdgeShape(edge), tries = mwPlacements(edge, shape);
    for (var i = 0; i < tries.length; i++) {
        var t = tries[i];
        if (!t.text) { continue; }
        var figured = mwLabelBox(shape, t.text, t.along, font);
        if (figured && !fits(figured, null)) { continue; }
        figured = figured && figured.exact ? figured : null;
        mwShowEdgeLabel(edge, t, font);
        var box = figured || mwBox(edge, true, t.along !== undefined);
        if (box.w > 0 && fits(box, null)) { taken.push([box, edge.id()]); return true; }
    }
    return false;
}

var MW_HIDDEN_EDGE_LABEL = {"label": "", "source-label": ""};

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
    boxes.style({"font-size": pixels.edge / zoom, "text-outline-width": 2 / zoom, "text-opacity": 1});
    nodes.forEach(function (node) { taken.push([mwBox(node, false), node.id()]); });
    var edges = cy.edges().filter(function (edge) {
        return edge.visible() && edge.data("label") && edge.data("health") !== "idle";
    }).sort(function (a, b) { return mwEdgeRank(b) - mwEdgeRank(a); });
    var fonts = mwLabelFonts(cy, pixels), font = fonts.edge, nodeFont = fonts.node;
    // Open circuits are the story: their labels go down before the names,
    // clear of them where the edge allows, over them where it does not.
    var names = nodes.map(function (node) {
        return [mwNodeLabelBox(node, node.data("label") || "", MW_NODE_SPOTS[0], nodeFont) || mwBox(node, false),
                node.id()];
    });
    var clearOfNames = function (box, owner) {
        return fits(box, owner) && names.every(function (name) { return !mwOverlaps(box, name[0]); });
    };
    // An idle edge (or one gone idle since its label was placed) shows none.
    var hidden = cy.edges().difference(edges).toArray();
    var place = function (edge, rule) {
        if (!mwPlaceEdgeLabel(edge, rule, taken, font)) { hidden.push(edge); }
    };
    var open = edges.filter(function (edge) { return edge.data("circuit") === "open"; });
    open.forEach(function (edge) {
        mwPlaceEdgeLabel(edge, clearOfNames, taken, font) || place(edge, fits);
    });
    // Node names: whole, then cut (the version kept), below the node, else
    // beside it; one that would sit on another node or name waits in the panel.
    nodes.forEach(function (node) {
        var names = node.data("label") ? [node.data("label")].concat(node.data("short_labels") || []) : [];
        for (var n = 0; n < names.length; n++) {
            for (var i = 0; i < MW_NODE_SPOTS.length; i++) {
                var spot = MW_NODE_SPOTS[i], figured = mwNodeLabelBox(node, names[n], spot, nodeFont);
                if (figured && !fits(figured, node.id())) { continue; }
                mwShowNodeLabel(node, names[n], spot, nodeFont);
                var box = figured || mwBox(node, true);
                if (fits(box, node.id())) { taken.push([box, node.id()]); return; }
            }
        }
        // Only a name shown before has one to take back.
        if (node.hasClass("mw-label")) { node.style({"label": ""}); }
    });
    edges.difference(open).forEach(function (edge) { place(edge, fits); });
    cy.batch(function () {
        hidden.forEach(function (edge) { if (edge.hasClass("mw-label")) { edge.style(MW_HIDDEN_EDGE_LABEL); } });
    });
    // A namespace's name tops its box where nothing else is; it is in the panel too.
    boxes.forEach(function (box) {
        var label = mwBox(box, true);
        if (fits(label, box.id())) { taken.push([label, box.id()]); } else { box.style({"text-opacity": 0}); }
    });
}

/* A click on a folded namespace (a node of `kind`) opens it in place: the
   page asks for it straight from Cytoscape's tap. The namespaces opened are
   kept beside the graph, as the page's store cannot be read outside a callback. */
// How long a pointer rests on a folded namespace before its opening is built:
// a person's comes to rest before the click; one passing over it does not.
var MW_POINTER_REST_MS = 150;

/* The namespaces open once `namespace` is opened too. */
function mwOpenedWith(cy, namespace) {
    return cy.mwOpened.filter(function (open) { return open !== namespace; }).concat([namespace]).sort();
}

function mwWatchNamespaces(cy, kind) {
    if (cy.mwOpened || !kind) { return; }
    cy.mwOpened = [];
    var resting = null;
    cy.on("tap", "node", function (event) {
        clearTimeout(resting);
        var node = event.target.data();
        if (node.kind !== kind) { return; }
        cy.mwOpened = mwOpenedWith(cy, node.namespace);
        window.dash_clientside.set_props("topology-expanded", {data: cy.mwOpened});
    });
    // A pointer resting on a folded namespace: the server builds what a click
    // on it will draw meanwhile (the first click on one is otherwise its build).
    cy.on("mouseover", "node", function (event) {
        var node = event.target.data();
        if (node.kind !== kind) { return; }
        clearTimeout(resting);
        resting = setTimeout(function () {
            window.dash_clientside.set_props("topology-hovered", {data: mwOpenedWith(cy, node.namespace)});
        }, MW_POINTER_REST_MS);
    });
    cy.on("mouseout", "node", function () { clearTimeout(resting); });
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

    /* The node a tap selects: none for a folded namespace (a node of `kind`),
       which the tap opens instead. Asking the server about it held the
       click's refresh back, as the selection is what that refresh reads. */
    tappedNode: function (node, kind) {
        return node && node.kind !== kind ? node : window.dash_clientside.no_update;
    },

    /* Fold folds every namespace opened again (mwWatchNamespaces opens them);
       run with the graph as well (its id), to set that up. */
    openNamespaces: function (graph, fold, kind) {
        window.mwNamespaceKind = kind;
        var cy = window.cy;
        if (cy) { mwWatchNamespaces(cy, kind); }
        var trigger = window.dash_clientside.callback_context.triggered.map(function (t) { return t.prop_id; });
        if (trigger.indexOf("topology-fold.n_clicks") < 0) { return window.dash_clientside.no_update; }
        if (cy) { cy.mwOpened = []; }
        return [];
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
        mwWatchNamespaces(cy, window.mwNamespaceKind);
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

    /* Re-place the topology's labels whenever the graph or the view changes:
       on Cytoscape's own events, set up with the first drawing. A drawing
       after it has changed elements, and so said so already: placing the
       labels again for the page's word of it cost a second pass of a second. */
    declutterGraph: function (drawn) {
        var cy = window.cy;
        if (!cy || cy.mwDeclutter) { return ""; }
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
        cy.on("add remove data position zoom pan layoutstop", cy.mwDeclutter);
        // Cytoscape also says "resize" when anything touches its container's
        // attributes (Dash re-rendering it on a tap): only a new size moves labels.
        cy.on("resize", function () {
            var size = cy.width() + "x" + cy.height();
            if (size !== cy.mwSize) { cy.mwSize = size; cy.mwDeclutter(); }
        });
        cy.mwSize = cy.width() + "x" + cy.height();
        window.addEventListener("resize", cy.mwDeclutter);
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
