// The conversation page (crates/http/templates/console/conversation*.html): wired by data attributes, no inline script.
"use strict";
