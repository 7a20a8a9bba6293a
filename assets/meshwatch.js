/* meshwatch's clientside callbacks (Dash ClientsideFunction("meshwatch", name)). */
window.dash_clientside = window.dash_clientside || {};

/* The path prefix the app is served under (--base-path), from Dash's own config. */
function mwPathPrefix() {
    var config = document.getElementById("_dash-config");
    var prefix = config ? JSON.parse(config.textContent).requests_pathname_prefix : "/";
    return (prefix || "/").replace(/\/$/, "");
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
