// A button marked data-print prints the page (the receipt's print stylesheet does the rest).
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
