"""The topology page's views: the graph (`graph`), the page around it
(`page`) and the side panel (`panel`)."""
