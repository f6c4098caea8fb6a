// The console's own script: shared helpers for the pages (no library, nothing fetched from elsewhere).
"use strict";
