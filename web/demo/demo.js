// The pretend shop's own script: a cart counter. The chat widget is separate
// (see the <script data-topic> tag in index.html) and needs nothing from here.
document.addEventListener('DOMContentLoaded', () => {
  const cart = document.querySelector('.cart');
  const count = cart.querySelector('.count');
  let n = 0;
  document.querySelectorAll('.add').forEach(b => b.addEventListener('click', () => {
    n += 1;
    count.textContent = String(n);
    cart.setAttribute('aria-label', `Cart, ${n} item${n === 1 ? '' : 's'}`);
    b.textContent = 'Added ✓';
    setTimeout(() => { b.textContent = 'Add to cart'; }, 1200);
  }));
});
