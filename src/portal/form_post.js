// OAuth 2.0 Form Post Response Mode: the page's one form carries the answer to the
// app; send it as soon as the page is read. Without scripts, its button does the same.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var f = document.getElementById("form-post");
  if (f) {
    f.submit();
  }
});
