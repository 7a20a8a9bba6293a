"""The traces pages' views: the search page (`search`), the trace page around
the waterfall (`trace_page`), the waterfall figure (`waterfall`), the span
detail panel (`span_panel`) and the file picker (`upload`). Pure: trace model
in, Dash components and Plotly figures out."""
