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

window.dash_clientside.meshwatch = {
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

    /* A click on a waterfall row's label selects its span, as a click on its
       bar does: Plotly reports clicks on bars only, so the page maps the
       click's height to a row. */
    selectOnLabelClick: function (traceId) {
        if (!window.mwWaterfallLabelClicks) {
            window.mwWaterfallLabelClicks = true;
            document.addEventListener("click", function (event) {
                var graph = document.querySelector("#trace-waterfall .js-plotly-plot");
                var rows = graph && graph.layout && graph.layout.meta && graph.layout.meta.rows;
                var plot = graph && graph.querySelector(".nsewdrag");
                if (!rows || !rows.length || !plot || !graph.contains(event.target)) { return; }
                var box = plot.getBoundingClientRect();
                if (event.clientX >= box.left || event.clientY < box.top || event.clientY >= box.bottom) { return; }
                var row = Math.floor((event.clientY - box.top) / (box.height / rows.length));
                window.dash_clientside.set_props("trace-selected", {data: rows[row]});
            }, true);
        }
        return "";
    },

    /* Fit the topology to the screen: the one thing that moves the view. */
    fitGraph: function (clicks) {
        if (window.cy) { window.cy.fit(undefined, 60); }
        return "";
    },

    /* The address is the view: namespaces, window, refresh and idle edges
       go into the query, so a copied link opens the same view. */
    topologyAddress: function (namespaces, rateWindow, refresh, idle, traceId) {
        var query = new URLSearchParams();
        (namespaces || []).forEach(function (ns) { query.append("namespace", ns); });
        if (rateWindow) { query.set("window", rateWindow); }
        if (refresh !== undefined && refresh !== null) { query.set("refresh", String(refresh)); }
        if (idle && idle.indexOf("idle") >= 0) { query.set("idle", "1"); }
        if (traceId) { query.set("trace", traceId); }
        mwReplaceQuery(query);
        return "";
    },

    /* The canary page's address follows its window. */
    canaryAddress: function (rateWindow, service) {
        var query = new URLSearchParams();
        if (service) { query.set("service", service); }
        if (rateWindow) { query.set("window", rateWindow); }
        mwReplaceQuery(query);
        return "";
    },

    /* The deep link follows the selected span without reloading the page. */
    followSelectedSpan: function (span, traceId) {
        if (!traceId) { return ""; }
        var url = mwPathPrefix() + "/trace/" + encodeURIComponent(traceId) +
            (span ? "?span=" + encodeURIComponent(span) : "");
        if (window.location.pathname + window.location.search !== url) {
            window.history.replaceState(null, "", url);
        }
        return "";
    }
};
