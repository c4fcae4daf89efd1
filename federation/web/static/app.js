// A little JavaScript: filters apply as soon as a choice changes (the form works without it).
document.addEventListener("DOMContentLoaded", () => {
  const filters = document.getElementById("deviation-filters");
  if (filters) {
    filters.querySelectorAll("select").forEach((s) => s.addEventListener("change", () => filters.submit()));
  }
});
