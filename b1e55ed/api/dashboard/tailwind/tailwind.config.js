// Tailwind v3 config for the dashboard; `make css` rebuilds ../static/dashboard.css from input.css.
/** @type {import('tailwindcss').Config} */
module.exports = {
  content: ["../templates/**/*.html", "../static/dashboard.js"],
  theme: {
    extend: {
      fontFamily: {
        mono: ['"JetBrains Mono"', "ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
      },
      colors: {
        // The warm neutral shell (paper, putty, umber ink).
        shell: {
          50: "#f6f2ea",
          100: "#eee8dc",
          200: "#e2d9c8",
          300: "#cfc3ad",
          400: "#a99b82",
          500: "#857862",
          600: "#665b49",
          700: "#4a4236",
          800: "#2f2a23",
          900: "#1d1a16",
        },
        // The CRT data zones: phosphor on a green-black screen.
        crt: {
          screen: "#0a0f0b",
          edge: "#16201a",
          grid: "#1f2d23",
          green: "#5cff8a",
          dim: "#2f9e55",
          faint: "#1d5a33",
          amber: "#ffb347",
          red: "#ff6b5c",
        },
      },
      fontSize: {
        "2xs": ["0.6875rem", { lineHeight: "1rem" }],
      },
    },
  },
  plugins: [],
};
