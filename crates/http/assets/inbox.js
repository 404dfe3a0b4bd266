// The inbox page (crates/http/templates/console/inbox*.html): wired by data attributes, no inline script.
"use strict";
